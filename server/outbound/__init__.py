"""Work that leaves the server on its own schedule: delivery of service notices, webhooks, deadlines.

Each runs on every node and claims its rows in the store with a lease, so one
node does each job once and a crashed node's jobs are taken over.
"""
