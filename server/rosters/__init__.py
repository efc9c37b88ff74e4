"""Courts' rosters of invited mediation organisations and mediators (特邀调解名册), and mediators' profiles.

``store`` (:class:`RosterStore`) keeps the rosters and profiles and answers the referral's
question (is this organisation an active member of this court's roster now?);
``usecases`` (:class:`RosterService`) applies ``server.domain.rosters`` to who is asking;
``endpoints`` is the HTTP table.
"""
