"""Referral, assignment and tracking (委派、分派与跟踪): a court refers a case to a mediation organisation on
its roster (or a party applies to one directly), the organisation assigns a mediator who accepts or
declines, the mediation period runs, and the court, the organisation and the mediator follow the case
on its timeline."""
