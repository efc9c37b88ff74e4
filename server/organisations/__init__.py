"""Organisations (机构) and their staff accounts: who works where, and the administrators who manage them.

``usecases`` (:class:`OrganisationService`) lets an organisation's administrator list,
create and disable its accounts, reset their passwords and set their contacts;
``store`` keeps the organisations and the record of what was done to their accounts;
``endpoints`` is the HTTP table. The rules are in ``server.domain.organisations``.
"""
