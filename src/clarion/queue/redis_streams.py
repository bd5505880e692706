"""Production queue on Redis Streams with one consumer group per queue.

Keys (``p`` is the prefix):
- ``p:queues`` — set of queue names (for ``stats``);
- ``p:q:NAME`` — the stream of due jobs, consumer group ``workers``;
- ``p:q:NAME:delayed`` — sorted set of delayed jobs scored by due time (epoch seconds);
- ``p:q:NAME:dead`` — stream of dead-lettered jobs with their last error.

A stream entry has one field ``j``: the job encoded as a msgspec JSON array
``[id, task, payload, attempts_before, max_attempts, last_error]``. ``attempts_before`` counts deliveries of
earlier entries of the same job (retries re-add the job as a new entry); the attempts of a delivery are
``attempts_before`` plus the entry's delivery count in the group's pending list (``XREADGROUP`` sets it to 1,
every takeover adds one), so a takeover after a crash counts as a new attempt.

Every state change is one Lua script (atomic, one round trip):
- enqueue: create the group if the stream is new, ``XADD`` due jobs, ``ZADD`` delayed ones;
- reserve: promote due delayed jobs, take over (``XPENDING … IDLE`` + ``XCLAIM``) entries idle longer than
  ``lease_seconds`` (expired leases; those on their last attempt go to the dead stream), then
  ``XREADGROUP >`` for new entries;
- extend (a running worker's heartbeat): ``XCLAIM … JUSTID`` by the holder resets an entry's idle time;
- retry: ``XACK`` + ``XDEL`` and ``ZADD`` to the delayed set (or ``XADD`` to the dead stream).
ack is ``XACK`` + ``XDEL`` in one ``MULTI``.

Leases: the lease of an entry is measured by whoever reclaims it: an entry idle for longer than the
reclaiming caller's ``lease_seconds`` is taken over. Workers sharing a queue should therefore use the same
lease (a worker with a shorter lease takes over the jobs of one with a longer lease).

Receipts are ``"{entry_id}:{delivery_count}"``: retry checks that the entry's delivery count is unchanged,
so a worker whose lease was taken over can not requeue the job a second time. Unlike the SQLite queue,
enqueueing a ``job_id`` twice stores two entries (the job ledger de-duplicates their effects) unless the
spec asks for ``unique_for``: then a ``p:unique:ID`` key set with ``NX`` and an expiry guards the add.
Due times come from the callers' clocks (``time.time()``), so hosts sharing a queue need synced clocks.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
import redis.asyncio as redis

from clarion.queue.port import Backlog, Job, JobSpec, QueueStats, backoff_seconds
from clarion.queue.redis_persistence import persistence_warnings

GROUP = "workers"
_PROMOTE_MAX = 1000
"""Due delayed jobs moved to the stream per reserve (bounded: one script call blocks Redis while it runs)."""

_Arg = bytes | str | int | float

_ENSURE_GROUP = """
local function ensure_group(stream)
  if redis.call('EXISTS', stream) == 0 then
    redis.call('XGROUP', 'CREATE', stream, ARGV[1], '0', 'MKSTREAM')
  end
end
"""

# KEYS: queues set, then (stream, delayed) per queue. ARGV: group, queue count Q, Q queue names,
# then per job: index of its stream in KEYS, due time ('' when due now), entry, unique key ('' for none),
# unique window in ms. A job whose unique key is already set is skipped (SET NX makes claim + add atomic).
# Returns, per job, 1 when it was added and 0 when it was skipped.
_ENQUEUE = (
    _ENSURE_GROUP
    + """
local queues = tonumber(ARGV[2])
for q = 1, queues do
  ensure_group(KEYS[2 * q])
  redis.call('SADD', KEYS[1], ARGV[2 + q])
end
local added = {}
for i = queues + 3, #ARGV, 5 do
  local k = tonumber(ARGV[i])
  local fresh = ARGV[i + 3] == '' or redis.call('SET', ARGV[i + 3], '1', 'NX', 'PX', ARGV[i + 4])
  added[#added + 1] = fresh and 1 or 0
  if fresh then
    if ARGV[i + 1] == '' then
      redis.call('XADD', KEYS[k], '*', 'j', ARGV[i + 2])
    else
      redis.call('ZADD', KEYS[k + 1], ARGV[i + 1], ARGV[i + 2])
    end
  end
end
return added
"""
)

# KEYS: stream, delayed, dead. ARGV: group, consumer, now, limit, min idle ms, promote max.
# Expired leases are found with XPENDING … IDLE, which walks the pending list (the entries in flight, not
# the backlog) from its oldest entry: an expired lease is taken over at the first reserve after it lapses.
_RESERVE = (
    _ENSURE_GROUP
    + """
local stream, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, limit = ARGV[1], ARGV[2], tonumber(ARGV[4])
ensure_group(stream)
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', ARGV[3], 'LIMIT', 0, ARGV[6])
for _, member in ipairs(due) do
  redis.call('XADD', stream, '*', 'j', member)
end
if #due > 0 then
  redis.call('ZREM', delayed, unpack(due))
end
local out = {}
local expired = redis.call('XPENDING', stream, group, 'IDLE', ARGV[5], '-', '+', limit)
if #expired > 0 then
  local ids, deliveries = {}, {}
  for i, pending in ipairs(expired) do
    ids[i] = pending[1]
    deliveries[pending[1]] = pending[4] + 1
  end
  local claimed = redis.call('XCLAIM', stream, group, consumer, ARGV[5], unpack(ids))
  for _, entry in ipairs(claimed) do
    if type(entry) == 'table' and type(entry[2]) == 'table' then
      local id, body = entry[1], entry[2][2]
      local job = cjson.decode(body)
      if job[4] + deliveries[id] - 1 >= job[5] then
        redis.call('XADD', dead, '*', 'j', body, 'e', 'lease expired on the last attempt')
        redis.call('XACK', stream, group, id)
        redis.call('XDEL', stream, id)
      else
        table.insert(out, id)
        table.insert(out, body)
        table.insert(out, deliveries[id])
      end
    end
  end
end
local room = limit - #out / 3
if room > 0 then
  local fresh = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', room, 'STREAMS', stream, '>')
  if fresh then
    for _, entry in ipairs(fresh[1][2]) do
      table.insert(out, entry[1])
      table.insert(out, entry[2][2])
      table.insert(out, 1)
    end
  end
end
return out
"""
)

# KEYS: the streams. ARGV: group, consumer, then per stream (in KEYS order): its number of jobs J, the lowest
# and the highest of their entry ids, then J pairs (entry id, delivery count). One XPENDING over that id range
# (this consumer's entries only) and one XCLAIM … JUSTID per 500 entries, whatever J: an entry still pending
# for this consumer with the same delivery count is ours, and JUSTID resets its idle time without counting a
# delivery. Returns per job, in ARGV order, 1 (renewed) or 0 (taken over, acked or requeued).
_EXTEND = """
local group, consumer = ARGV[1], ARGV[2]
local out = {}
local i = 3
for k = 1, #KEYS do
  local stream, count = KEYS[k], tonumber(ARGV[i])
  local limit = 2 * count + 100
  local pending = redis.call('XPENDING', stream, group, ARGV[i + 1], ARGV[i + 2], limit, consumer)
  local held = {}
  for _, entry in ipairs(pending) do
    held[entry[1]] = entry[4]
  end
  local claim = {stream, group, consumer, '0'}
  i = i + 3
  for _ = 1, count do
    local id, deliveries = ARGV[i], tonumber(ARGV[i + 1])
    local current = held[id]
    if current == nil and #pending >= limit then
      local one = redis.call('XPENDING', stream, group, id, id, 1, consumer)
      if #one > 0 then
        current = one[1][4]
      end
    end
    if current == deliveries then
      table.insert(claim, id)
      table.insert(out, 1)
    else
      table.insert(out, 0)
    end
    i = i + 2
  end
  for first = 5, #claim, 500 do
    local batch = {unpack(claim, 1, 4)}
    for c = first, math.min(first + 499, #claim) do
      table.insert(batch, claim[c])
    end
    table.insert(batch, 'JUSTID')
    redis.call('XCLAIM', unpack(batch))
  end
end
return out
"""

# KEYS: stream, delayed, dead. ARGV: group, entry id, delivery count, entry, due, dead flag, error.
_RETRY = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 or pending[1][4] ~= tonumber(ARGV[3]) then
  return -1
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[6] == '1' then
  redis.call('XADD', KEYS[3], '*', 'j', ARGV[4], 'e', ARGV[7])
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
return 1
"""

# KEYS: (stream, delayed, dead) per queue. ARGV: group.
_STATS = """
local out = {}
for i = 1, #KEYS, 3 do
  local length, pending = 0, 0
  if redis.call('EXISTS', KEYS[i]) == 1 then
    length = redis.call('XLEN', KEYS[i])
    pending = redis.call('XPENDING', KEYS[i], ARGV[1])[1]
  end
  table.insert(out, length)
  table.insert(out, pending)
  table.insert(out, redis.call('ZCARD', KEYS[i + 1]))
  table.insert(out, redis.call('XLEN', KEYS[i + 2]))
end
return out
"""

# KEYS: stream, delayed. ARGV: group. Returns length, pending, delayed and the first entry the group has not
# read yet (the next ``XREADGROUP >``), found after the group's last delivered id: O(1) commands, no scan.
_BACKLOG = """
local length, pending, head = 0, 0, false
if redis.call('EXISTS', KEYS[1]) == 1 then
  length = redis.call('XLEN', KEYS[1])
  pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
  local last = '0-0'
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local fields = {}
    for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
    if fields['name'] == ARGV[1] then last = fields['last-delivered-id'] end
  end
  local entries = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
  if #entries > 0 then head = entries[1][2][2] end
end
return {length, pending, redis.call('ZCARD', KEYS[2]), head}
"""


class _Entry(msgspec.Struct, array_like=True):
    """The job as stored in a stream entry or delayed-set member."""

    id: str
    task: str
    payload: Any  # a Struct or a dict when written, always a dict when read
    attempts: int
    max_attempts: int
    error: str | None = None


_entry_decoder = msgspec.json.Decoder(_Entry)
_entry_encoder = msgspec.json.Encoder()


def _consumer_name() -> str:
    """Unique per process (and per queue instance): ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class RedisStreamQueue:
    """The production ``JobQueue``: Redis Streams, one consumer group per queue, Lua for atomic steps."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "clarion",
        max_attempts: int = 8,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
    ) -> None:
        self._redis: redis.Redis = redis.from_url(url)
        self._prefix = prefix
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._consumer = _consumer_name()
        self._enqueue_script = self._redis.register_script(_ENQUEUE)
        self._reserve_script = self._redis.register_script(_RESERVE)
        self._retry_script = self._redis.register_script(_RETRY)
        self._extend_script = self._redis.register_script(_EXTEND)
        self._stats_script = self._redis.register_script(_STATS)
        self._backlog_script = self._redis.register_script(_BACKLOG)

    def _stream(self, queue: str) -> str:
        """Stream key of a queue."""
        return f"{self._prefix}:q:{queue}"

    def _keys(self, queue: str) -> list[str]:
        """Stream, delayed set and dead stream keys of a queue."""
        stream = self._stream(queue)
        return [stream, f"{stream}:delayed", f"{stream}:dead"]

    async def enqueue(self, jobs: Sequence[JobSpec]) -> list[str]:
        """Add jobs in one atomic script: due ones to the stream, delayed ones to the delayed set."""
        ids, _stored = await self.enqueue_new(jobs)
        return ids

    async def enqueue_new(self, jobs: Sequence[JobSpec]) -> tuple[list[str], list[bool]]:
        """Add jobs as ``enqueue`` does; whether each was added (False: its unique id was taken)."""
        if not jobs:
            return [], []
        now = time.time()
        ids = [spec.job_id or str(uuid.uuid4()) for spec in jobs]
        names = list(dict.fromkeys(spec.queue for spec in jobs))
        keys = [f"{self._prefix}:queues"]
        for name in names:
            keys.extend(self._keys(name)[:2])
        stream_index = {name: 2 * q for q, name in enumerate(names, start=1)}  # Lua indexes from 1
        args: list[_Arg] = [GROUP, len(names), *names]
        for job_id, spec in zip(ids, jobs, strict=True):
            entry = _Entry(job_id, spec.task, spec.payload, 0, spec.max_attempts or self._max_attempts)
            due = repr(now + spec.delay) if spec.delay > 0 else ""
            unique_key = f"{self._prefix}:unique:{job_id}" if spec.unique_for > 0 else ""
            window_ms = max(1, int(spec.unique_for * 1000))
            args.extend((stream_index[spec.queue], due, _entry_encoder.encode(entry), unique_key, window_ms))
        added = await self._enqueue_script(keys=keys, args=args)
        return ids, [bool(flag) for flag in added]

    async def reserve(self, queue: str, *, limit: int, lease_seconds: float) -> list[Job]:
        """Promote due delayed jobs, take over expired leases, then read new entries (oldest first)."""
        if limit < 1:
            return []
        args: list[_Arg] = [
            GROUP,
            self._consumer,
            repr(time.time()),
            limit,
            max(1, int(lease_seconds * 1000)),
            _PROMOTE_MAX,
        ]
        flat = await self._reserve_script(keys=self._keys(queue), args=args)
        return [_to_job(queue, flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]

    async def extend(self, jobs: Sequence[Job], *, lease_seconds: float) -> list[Job]:
        """Reset the idle time of entries this consumer still holds with the same delivery count (one
        script, a few commands per queue); return the jobs renewed.

        ``lease_seconds`` is not stored: a lease is measured by whoever reclaims it (its own lease), so
        renewing restarts the clock of every reclaimer at once. Only this instance's own reservations can
        be renewed (the entries are looked up under its consumer name).
        """
        del lease_seconds
        if not jobs:
            return []
        per_stream: dict[str, list[tuple[Job, str, str]]] = {}
        for job in jobs:
            entry_id, _, deliveries = job.receipt.rpartition(":")
            per_stream.setdefault(self._stream(job.queue), []).append((job, entry_id, deliveries))
        args: list[_Arg] = [GROUP, self._consumer]
        ordered: list[Job] = []
        for held in per_stream.values():
            ids = [entry_id for _, entry_id, _ in held]
            args.extend((len(held), min(ids, key=_entry_order), max(ids, key=_entry_order)))
            for job, entry_id, deliveries in held:
                args.extend((entry_id, deliveries))
                ordered.append(job)
        renewed = await self._extend_script(keys=list(per_stream), args=args)
        return [job for job, kept in zip(ordered, renewed, strict=True) if int(kept)]

    async def ack(self, jobs: Sequence[Job]) -> None:
        """Acknowledge and delete the entries (``XACK`` + ``XDEL`` per queue, one ``MULTI``)."""
        if not jobs:
            return
        per_stream: dict[str, list[str]] = {}
        for job in jobs:
            per_stream.setdefault(self._stream(job.queue), []).append(job.receipt.rpartition(":")[0])
        async with self._redis.pipeline(transaction=True) as pipe:
            for stream, entry_ids in per_stream.items():
                pipe.xack(stream, GROUP, *entry_ids)
                pipe.xdel(stream, *entry_ids)
            await pipe.execute()

    async def retry(self, job: Job, *, error: str, delay: float | None = None) -> bool:
        """Requeue with backoff (or ``delay``) through the delayed set; dead-letter at ``max_attempts``."""
        entry_id, _, deliveries = job.receipt.rpartition(":")
        bury = job.attempts >= job.max_attempts
        if delay is None:
            delay = backoff_seconds(job.attempts, base=self._backoff_base, cap=self._backoff_max)
        entry = _Entry(job.id, job.task, job.payload, job.attempts, job.max_attempts, error)
        args: list[_Arg] = [
            GROUP,
            entry_id,
            deliveries,
            _entry_encoder.encode(entry),
            repr(time.time() + delay),
            "1" if bury else "0",
            error,
        ]
        outcome = await self._retry_script(keys=self._keys(job.queue), args=args)
        # -1: the lease was taken over meanwhile; the job stays with its new holder.
        return int(outcome) != 0

    async def stats(self) -> QueueStats:
        """Ready (stream length minus pending), delayed, leased (pending) and dead counts per known queue."""
        members = await self._redis.smembers(f"{self._prefix}:queues")
        names = sorted(name.decode() if isinstance(name, bytes) else name for name in members)
        stats = QueueStats(ready={}, delayed={}, leased={}, dead={})
        if not names:
            return stats
        keys = [key for name in names for key in self._keys(name)]
        counts = await self._stats_script(keys=keys, args=[GROUP])
        for i, name in enumerate(names):
            length, pending, delayed, dead = counts[4 * i : 4 * i + 4]
            stats.ready[name] = length - pending
            stats.leased[name] = pending
            stats.delayed[name] = delayed
            stats.dead[name] = dead
        return stats

    async def backlog(self, queue: str) -> Backlog:
        """One queue's counts and the next entry a reserve reads (one script, a few O(1) commands)."""
        length, pending, delayed, head = await self._backlog_script(keys=self._keys(queue)[:2], args=[GROUP])
        payload = _entry_decoder.decode(head).payload if head else None
        return Backlog(ready=length - pending, leased=pending, delayed=delayed, next_payload=payload)

    async def persistence_warnings(self) -> list[str]:
        """Whether this Redis keeps an append-only file (``redis_persistence.py``), on the queue's pool."""
        return await persistence_warnings(self._redis)

    async def ping(self) -> None:
        """``PING`` (raises when Redis does not answer)."""
        await self._redis.ping()

    async def close(self) -> None:
        """Close the connection pool (every write was already acknowledged by Redis)."""
        await self._redis.aclose()


def _entry_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id ``"ms-seq"`` as a sortable pair (as text, "10-0" would sort before "9-0")."""
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq)


def _to_job(queue: str, entry_id: bytes, body: bytes, deliveries: int) -> Job:
    """Build a reserved ``Job`` from a stream entry and its delivery count."""
    entry = _entry_decoder.decode(body)
    attempts = entry.attempts + deliveries
    return Job(
        id=entry.id,
        task=entry.task,
        payload=entry.payload,
        queue=queue,
        attempts=attempts,
        max_attempts=entry.max_attempts,
        receipt=f"{entry_id.decode()}:{deliveries}",
    )
