"""One-click claims over the real server (SQLite and PostgreSQL): the party of a signed case claims with one
action and the amounts are the agreement's; a second claim is refused; an adjuster without an authorisation, or
beyond its limit, is refused; the adjuster pays within the deadline; a claim past its deadline is flagged once
by the job (the clock injected) and the insurer's administrator and the mediator are told; 定修直赔; and who
sees what (another insurer's adjuster and a party of another case get 404)."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta
from typing import Any

import pytest

from server.app import CLAIM_DEADLINES
from server.domain.roles import AccountKind
from server.domain.time import BEIJING
from server.notify import OutboxNotifier
from tests.builders import PASSWORD, PDF_BYTES, authorise, case_with_parties, insured_case, signed_case, staff_account
from tests.conftest import Api

pytestmark = pytest.mark.asyncio

BACKENDS = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


async def _claim(api: Api, c: dict[str, Any]) -> dict[str, Any]:
    status, claim, _ = await api.call("POST", f"{c['base']}/claims", c["applicant"])
    assert status == 201, claim
    return dict(claim)


@BACKENDS
async def test_one_click_claim_has_the_agreements_amounts_and_is_paid_in_time(api: Api) -> None:
    c = await insured_case(api)
    claim = await _claim(api, c)
    assert claim["state"] == "submitted" and claim["state_label"] == "已提交"
    assert claim["amount"] == "15000.00"
    assert [(x["payer"], x["amount"]) for x in claim["lines"]] == [(c["insurer_name"], "15000.00")]
    assert claim["vehicle_damage"] == "5000.00"
    assert claim["insurer"] == {"id": c["insurer_id"], "name": c["insurer_name"]}
    # submitted Monday 2026-11-23 (Beijing 17:00): ten working days later is Monday 2026-12-07
    assert claim["due_on"] == "2026-12-07" and claim["working_days_left"] == 10
    # a second claim by the same party is refused, nothing stored
    status, again, _ = await api.call("POST", f"{c['base']}/claims", c["applicant"])
    assert status == 409 and again["code"] == "duplicate", again
    assert len((await api.call("GET", f"{c['base']}/claims", c["applicant"]))[1]["claims"]) == 1
    # the respondent is owed nothing by the insurer
    status, none, _ = await api.call("POST", f"{c['base']}/claims", c["respondent"])
    assert status == 422 and none["code"] == "invalid_command", none

    # the adjuster without an authorisation may not act
    cid = claim["id"]
    status, refused, _ = await api.call("POST", f"/api/v1/claims/{cid}/accept", c["adjuster"])
    assert status == 403 and refused["code"] == "beyond_authorisation", refused
    # nor with one whose limit is below the claim
    await authorise(api, c, limit="10000")
    status, refused, _ = await api.call("POST", f"/api/v1/claims/{cid}/accept", c["adjuster"])
    assert status == 403 and refused["code"] == "beyond_authorisation", refused
    await authorise(api, c, limit="20000")
    status, accepted, _ = await api.call("POST", f"/api/v1/claims/{cid}/accept", c["adjuster"])
    assert status == 200 and accepted["state"] == "accepted", accepted
    assert accepted["acting"]["adjuster"] == "赵理赔员" and accepted["acting"]["limit"] == "20000.00"
    # the insurer participant sees who acts and their limit
    (theirs,) = (await api.call("GET", f"{c['base']}/claims", c["insurer"]))[1]["claims"]
    assert theirs["acting"]["limit"] == "20000.00" and theirs["acting"]["any_region"] is True

    # the desk's queue holds it; the signed agreement is there to read
    queue = (await api.call("GET", "/api/v1/claims", c["adjuster"]))[1]["claims"]
    assert [q["id"] for q in queue] == [cid]
    status, pdf, resp = await api.call("GET", f"/api/v1/claims/{cid}/agreement", c["adjuster"])
    assert status == 200 and resp.content_type == "application/pdf" and pdf.startswith(b"%PDF-")

    api.clock.advance(timedelta(hours=1))
    paid_on = (api.clock() + timedelta(hours=8)).date().isoformat()
    body = {"amount": "20000.00", "reference": "TX-1", "paid_on": paid_on}
    status, over, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=body)
    assert status == 422 and over["code"] == "invalid_command", over
    body["amount"] = "15000.00"
    status, paid, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=body)
    assert status == 201 and paid["state"] == "paid" and paid["paid"] == "15000.00", paid
    # the claimant sees each step
    mine = (await api.call("GET", f"/api/v1/claims/{cid}", c["applicant"]))[1]
    assert [e["action"] for e in mine["events"]] == ["submitted", "accepted", "paid"]
    assert mine["state_label"] == "已支付" and mine["overdue"] is False
    # and each step is in the case's audit trail
    trail = (await api.call("GET", f"{c['base']}/audit", c["mediator"]))[1]["entries"]
    assert [e["action"] for e in trail if e["action"].startswith("claim.")] == [
        "claim.submitted",
        "claim.accepted",
        "claim.paid",
    ]
    # nothing more can be paid
    status, more, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=body)
    assert status == 409 and more["code"] == "illegal_transition", more
    # the job finds nothing to flag, even long after
    api.app[CLAIM_DEADLINES].clock = lambda: api.clock() + timedelta(days=60)
    assert await api.app[CLAIM_DEADLINES].run_round() == 0


@BACKENDS
async def test_an_insurer_named_with_its_cover_as_the_police_intake_names_it_is_found(api: Api) -> None:
    c = await insured_case(api, qualifier="（交强险）")
    claim = await _claim(api, c)
    assert claim["insurer"] == {"id": c["insurer_id"], "name": c["insurer_name"]}
    assert [(x["payer"], x["amount"]) for x in claim["lines"]] == [(c["insurer_name"] + "（交强险）", "15000.00")]


@BACKENDS
async def test_a_claim_past_its_deadline_is_flagged_once_and_the_insurer_and_mediator_are_told(api: Api) -> None:
    await api.app[CLAIM_DEADLINES].close()
    outbox = OutboxNotifier()
    api.app[CLAIM_DEADLINES].notifier = outbox
    c = await insured_case(api)
    claim = await _claim(api, c)
    job = api.app[CLAIM_DEADLINES]

    # Monday 2026-12-07 (Beijing) is the last day: not overdue during it (the job's clock injected; the
    # server's stays, so that the logins stay valid)
    # (the run's PostgreSQL holds other tests' claims: only this claim's flag and messages are counted)
    async def overdue() -> bool:
        return bool((await api.call("GET", f"/api/v1/claims/{claim['id']}", c["adjuster"]))[1]["overdue"])

    job.clock = lambda: claim_day(2026, 12, 7, 23)
    await job.run_round()
    assert not await overdue()
    job.clock = lambda: claim_day(2026, 12, 8, 0)
    assert await job.run_round() >= 1
    assert await overdue()
    await job.run_round()  # once
    job.clock = lambda: claim_day(2026, 12, 10, 9)
    await job.run_round()
    mine = [m for m in outbox.sent if m.kind == "claim_overdue" and claim["id"] in (m.reference or "")]
    assert sorted(m.to for m in mine) == ["13600000002", "13700000001"]  # the mediator and the insurer's admin
    assert all("已标记为超期" in m.text and "张三" not in m.text for m in mine)
    for who in ("applicant", "mediator", "adjuster", "insurer_admin"):
        seen = (await api.call("GET", f"/api/v1/claims/{claim['id']}", c[who]))[1]
        assert seen["overdue"] is True and seen["events"][-1]["action"] == "overdue", who
    trail = (await api.call("GET", f"{c['base']}/audit", c["mediator"]))[1]["entries"]
    assert [e["action"] for e in trail].count("claim.overdue") == 1


def claim_day(year: int, month: int, day: int, hour: int) -> datetime:
    """An instant at ``hour`` o'clock in Beijing on the given day."""
    return datetime(year, month, day, hour, tzinfo=BEIJING)


@BACKENDS
async def test_repair_shop_chosen_by_the_claimant_is_paid_directly(api: Api) -> None:
    c = await insured_case(api)
    org = f"/api/v1/organisations/{c['insurer_id']}"
    shop_body = {"name": "城东汽车修理厂", "address": "城东路 1 号", "phone": "057188880000"}
    status, shop, _ = await api.call("POST", f"{org}/repair-shops", c["insurer_admin"], json=shop_body)
    assert status == 201, shop
    status, dup, _ = await api.call("POST", f"{org}/repair-shops", c["insurer_admin"], json=shop_body)
    assert status == 409, dup
    status, _, _ = await api.call("POST", f"{org}/repair-shops", c["adjuster"], json={**shop_body, "name": "另一家"})
    assert status == 403
    await authorise(api, c)
    claim = await _claim(api, c)
    assert claim["repair_shops"] == [shop]
    cid = claim["id"]
    # paying a shop the claimant did not choose is refused
    today = (api.clock() + timedelta(hours=8)).date().isoformat()
    to_shop = {"amount": "5000.00", "reference": "TX-SHOP", "paid_on": today, "repair_shop_id": shop["id"]}
    status, wrong, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=to_shop)
    assert status == 422, wrong
    # only the claimant chooses
    choice = {"repair_shop_id": shop["id"]}
    status, _, _ = await api.call("POST", f"/api/v1/claims/{cid}/repair-shop", c["adjuster"], json=choice)
    assert status == 403
    status, chosen, _ = await api.call("POST", f"/api/v1/claims/{cid}/repair-shop", c["applicant"], json=choice)
    assert status == 200 and chosen["repair_shop"]["name"] == "城东汽车修理厂", chosen
    # the shop is paid at most the vehicle damage
    status, too_much, _ = await api.call(
        "POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json={**to_shop, "amount": "6000.00"}
    )
    assert status == 422, too_much
    status, part, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=to_shop)
    assert status == 201 and part["state"] == "accepted" and part["paid"] == "5000.00", part
    rest = {"amount": "10000.00", "reference": "TX-REST", "paid_on": today}
    status, done, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=rest)
    assert status == 201 and done["state"] == "paid", done
    assert [(p["amount"], p["repair_shop_id"]) for p in done["payments"]] == [
        ("5000.00", shop["id"]),
        ("10000.00", None),
    ]
    mine = (await api.call("GET", f"/api/v1/claims/{cid}", c["applicant"]))[1]
    assert [e["action"] for e in mine["events"]] == ["submitted", "shop_chosen", "paid", "paid"]


@BACKENDS
async def test_refusal_and_who_sees_a_claim(api: Api) -> None:
    c = await insured_case(api)
    await authorise(api, c)
    claim = await _claim(api, c)
    cid = claim["id"]
    other = await insured_case(api)  # another insurer, another case
    for outsider in (other["adjuster"], other["insurer_admin"], other["applicant"], other["mediator"]):
        status, body, _ = await api.call("GET", f"/api/v1/claims/{cid}", outsider)
        assert status == 404, body
        status, body, _ = await api.call("POST", f"/api/v1/claims/{cid}/accept", outsider)
        assert status == 404, body
    assert (await api.call("GET", "/api/v1/claims", other["adjuster"]))[1]["claims"] == []
    # the respondent of the same case does not see the applicant's claim
    assert (await api.call("GET", f"/api/v1/claims/{cid}", c["respondent"]))[0] == 404
    assert (await api.call("GET", f"{c['base']}/claims", c["respondent"]))[1]["claims"] == []
    # the insurer's administrator sees it but does not act
    assert (await api.call("GET", f"/api/v1/claims/{cid}", c["insurer_admin"]))[0] == 200
    assert (await api.call("POST", f"/api/v1/claims/{cid}/accept", c["insurer_admin"]))[0] == 403
    # a mediator is no insurer
    assert (await api.call("GET", "/api/v1/claims", c["mediator"]))[0] == 403
    # another insurer's staff do not see this insurer's authorisations
    org = f"/api/v1/organisations/{c['insurer_id']}"
    assert (await api.call("GET", f"{org}/authorisations", other["insurer_admin"]))[0] == 404
    listed = (await api.call("GET", f"{org}/authorisations", c["adjuster"]))[1]["authorisations"]
    assert [a["in_force"] for a in listed] == [True]

    status, refused, _ = await api.call("POST", f"/api/v1/claims/{cid}/refusal", c["adjuster"], json={"reason": "  "})
    assert status == 422, refused
    status, refused, _ = await api.call(
        "POST", f"/api/v1/claims/{cid}/refusal", c["adjuster"], json={"reason": "保单已失效"}
    )
    assert status == 200 and refused["state"] == "refused" and refused["refused_reason"] == "保单已失效", refused
    # a refused claim is no longer open: the party may claim again
    again = await _claim(api, c)
    assert again["id"] != cid


@BACKENDS
async def test_an_authorisation_needs_a_pdf_an_adjuster_of_the_insurer_and_a_sound_term(api: Api) -> None:
    c = await insured_case(api)
    org = f"/api/v1/organisations/{c['insurer_id']}"
    today = api.clock().date()
    good = {
        "account_id": c["adjuster_id"],
        "regions": ["330106"],
        "limit": "20000",
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=30)).isoformat(),
        "document_pdf": base64.b64encode(PDF_BYTES).decode(),
    }
    _, _, mediator = await staff_account(api, AccountKind.MEDIATOR, "某调解委员会", "孙调解员")
    for bad in (
        {"document_pdf": base64.b64encode(b"\x89PNG\r\n\x1a\nnot a pdf").decode()},
        {"valid_to": (today - timedelta(days=1)).isoformat()},
        {"regions": []},
        {"limit": "0"},
        {"account_id": mediator.id},
    ):
        status, body, _ = await api.call("POST", f"{org}/authorisations", c["insurer_admin"], json={**good, **bad})
        assert status == 422, (bad, body)
    status, body, _ = await api.call("POST", f"{org}/authorisations", c["adjuster"], json=good)
    assert status == 403, body
    assert (await api.call("GET", f"{org}/authorisations", c["insurer_admin"]))[1]["authorisations"] == []
    # a region-bound authorisation does not cover a claim from a case of another region
    status, _, _ = await api.call("POST", f"{org}/authorisations", c["insurer_admin"], json=good)
    assert status == 201
    claim = await _claim(api, c)
    status, body, _ = await api.call("POST", f"/api/v1/claims/{claim['id']}/accept", c["adjuster"])
    assert status == 403 and body["code"] == "beyond_authorisation", body


@BACKENDS
async def test_no_claim_before_the_agreement_is_signed_nor_without_an_insurer_owing_the_party(api: Api) -> None:
    early = await case_with_parties(api)
    status, body, _ = await api.call("POST", f"/api/v1/cases/{early['case_id']}/claims", early["applicant"])
    assert status == 409 and body["code"] == "illegal_transition", body
    c = await signed_case(api)
    status, body, _ = await api.call("POST", f"{c['base']}/claims", c["applicant"])
    assert status == 422 and body["code"] == "invalid_command", body  # no insurer on this case
    assert (await api.call("GET", f"{c['base']}/claims", c["mediator"]))[1]["claims"] == []


async def _login(api: Api, username: str) -> str:
    status, body, _ = await api.call("POST", "/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert status == 200, body
    return str(body["token"])


@BACKENDS
async def test_statistics_show_days_to_payment_per_insurer(api: Api) -> None:
    c = await insured_case(api)
    await authorise(api, c)
    claim = await _claim(api, c)
    mediator = c["mediator"]
    assert (await api.call("GET", "/api/v1/statistics", mediator))[1]["claims_by_insurer"] == []  # not paid yet
    api.clock.advance(timedelta(days=2, hours=12))  # the logins of the day before have expired: log in again
    adjuster, mediator = await _login(api, c["adjuster_username"]), await _login(api, c["mediator_username"])
    paid_on = (api.clock() + timedelta(hours=8)).date().isoformat()
    body = {"amount": "15000.00", "reference": "TX-9", "paid_on": paid_on}
    assert (await api.call("POST", f"/api/v1/claims/{claim['id']}/payments", adjuster, json=body))[0] == 201
    figures = (await api.call("GET", "/api/v1/statistics", mediator))[1]["claims_by_insurer"]
    assert figures == [
        {"insurer_id": c["insurer_id"], "insurer": c["insurer_name"], "paid": 1, "median_days_to_payment": 2.5}
    ]


@BACKENDS
async def test_two_payments_at_once_pay_the_claim_once(api: Api) -> None:
    c = await insured_case(api)
    await authorise(api, c)
    claim = await _claim(api, c)
    paid_on = (api.clock() + timedelta(hours=8)).date().isoformat()
    pay = f"/api/v1/claims/{claim['id']}/payments"
    answers = await asyncio.gather(
        *(
            api.call(
                "POST", pay, c["adjuster"], json={"amount": "15000.00", "reference": f"TX-{n}", "paid_on": paid_on}
            )
            for n in range(2)
        )
    )
    assert sorted(status for status, _, _ in answers) == [201, 409], [body for _, body, _ in answers]
    mine = (await api.call("GET", f"/api/v1/claims/{claim['id']}", c["applicant"]))[1]
    assert mine["paid"] == "15000.00" and len(mine["payments"]) == 1


@BACKENDS
async def test_a_withdrawn_authorisation_stops_its_adjuster_and_its_pdf_is_kept(api: Api) -> None:
    """H12: the administrator withdraws an authorisation; the adjuster acts on under another one in force, and
    once that is withdrawn too is refused (what was paid stays paid); the signed PDF reads back byte for byte."""
    from server.organisations.store import OrganisationStore

    c = await insured_case(api)
    org = f"/api/v1/organisations/{c['insurer_id']}"
    narrow = await authorise(api, c, limit="20000")
    wide_pdf = PDF_BYTES + b"% the wider one\n"
    wide = await authorise(api, c, limit="50000", document_pdf=base64.b64encode(wide_pdf).decode())
    assert narrow["state"] == "in_force" and wide["state"] == "in_force"
    cid = (await _claim(api, c))["id"]
    status, accepted, _ = await api.call("POST", f"/api/v1/claims/{cid}/accept", c["adjuster"])
    assert status == 200 and accepted["acting"]["limit"] == "20000.00", accepted

    # the signed PDFs as uploaded: the administrator and the adjuster they name; nobody else
    for who in ("insurer_admin", "adjuster"):
        status, pdf, resp = await api.call("GET", f"{org}/authorisations/{wide['id']}/document", c[who])
        assert status == 200 and resp.content_type == "application/pdf" and pdf == wide_pdf, status
    assert (await api.call("GET", f"{org}/authorisations/{narrow['id']}/document", c["adjuster"]))[1] == PDF_BYTES
    _, another_adjuster, _ = await staff_account(api, AccountKind.CLAIMS_ADJUSTER, c["insurer_name"])
    status, body, _ = await api.call("GET", f"{org}/authorisations/{wide['id']}/document", another_adjuster)
    assert status == 403 and body["code"] == "forbidden", body
    other = await insured_case(api)
    for outsider in (other["insurer_admin"], other["adjuster"], c["mediator"], c["applicant"]):
        status, body, _ = await api.call("GET", f"{org}/authorisations/{wide['id']}/document", outsider)
        assert status in (403, 404) and body.get("code") in ("not_found", "forbidden"), body
        assert status == 404 or outsider == c["applicant"], body
    # one insurer's authorisation on another insurer's path is none of it
    other_org = f"/api/v1/organisations/{other['insurer_id']}"
    status, body, _ = await api.call("POST", f"{other_org}/authorisations/{wide['id']}/revoke", other["insurer_admin"])
    assert status == 404, body

    # only the administrator withdraws: another insurer's administrator 404, the adjuster 403, nothing changed
    status, body, _ = await api.call("POST", f"{org}/authorisations/{narrow['id']}/revoke", other["insurer_admin"])
    assert status == 404 and body["code"] == "not_found", body
    status, body, _ = await api.call("POST", f"{org}/authorisations/{narrow['id']}/revoke", c["adjuster"])
    assert status == 403 and body["code"] == "forbidden", body
    status, body, _ = await api.call("POST", f"{org}/authorisations/{narrow['id']}/revoke", c["mediator"])
    assert status == 404, body
    listed = (await api.call("GET", f"{org}/authorisations", c["insurer_admin"]))[1]["authorisations"]
    assert {a["state"] for a in listed} == {"in_force"}

    status, revoked, _ = await api.call("POST", f"{org}/authorisations/{narrow['id']}/revoke", c["insurer_admin"])
    assert status == 200 and revoked["state"] == "revoked" and revoked["in_force"] is False, revoked
    # again: unchanged, and recorded once, naming the adjuster and who withdrew it
    status, again, _ = await api.call("POST", f"{org}/authorisations/{narrow['id']}/revoke", c["insurer_admin"])
    assert status == 200 and again == revoked, again
    events = await OrganisationStore(api.repo.engine).events(c["insurer_id"])
    withdrawn = [e for e in events if e.action == "authorisation.revoked"]
    assert [e.account_id for e in withdrawn] == [c["adjuster_id"]], withdrawn
    assert withdrawn[0].actor.startswith("account:")
    mine = (await api.call("GET", f"{org}/authorisations", c["adjuster"]))[1]["authorisations"]
    assert {a["id"]: a["state"] for a in mine} == {narrow["id"]: "revoked", wide["id"]: "in_force"}

    # the wider one still covers the claim: a first payment goes through
    api.clock.advance(timedelta(hours=1))
    paid_on = (api.clock() + timedelta(hours=8)).date().isoformat()
    first = {"amount": "5000.00", "reference": "TX-1", "paid_on": paid_on}
    status, paid, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=first)
    assert status == 201 and paid["paid"] == "5000.00", paid
    # with both withdrawn the adjuster is refused; what was paid stays paid
    status, _, _ = await api.call("POST", f"{org}/authorisations/{wide['id']}/revoke", c["insurer_admin"])
    assert status == 200
    rest = {"amount": "10000.00", "reference": "TX-2", "paid_on": paid_on}
    status, refused, _ = await api.call("POST", f"/api/v1/claims/{cid}/payments", c["adjuster"], json=rest)
    assert status == 403 and refused["code"] == "beyond_authorisation", refused
    status, refused, _ = await api.call("POST", f"/api/v1/claims/{cid}/refusal", c["adjuster"], json={"reason": "x"})
    assert status == 403 and refused["code"] == "beyond_authorisation", refused
    claim = (await api.call("GET", f"/api/v1/claims/{cid}", c["insurer_admin"]))[1]
    assert claim["paid"] == "5000.00" and [p["amount"] for p in claim["payments"]] == ["5000.00"], claim
    # the withdrawn PDF is still there to read
    assert (await api.call("GET", f"{org}/authorisations/{narrow['id']}/document", c["insurer_admin"]))[1] == PDF_BYTES
