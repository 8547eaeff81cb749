"""Sync: protocol models shared with the server, the outbox client and its connection monitor.

The outbox is simply the store's events above each session's acked seq, so it survives restarts
by construction. `SyncClient` delivers it (asyncio + httpx); `BackgroundSync` runs one on its own
thread for callers that are not async.
"""
