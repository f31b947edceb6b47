using System.Collections.Concurrent;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution;

/// <summary>
/// One sweep of the executor over the store: recover executions whose holder is gone, then queue every due
/// approved draft of a push route (command, webhook) for a run slot (<c>MaxParallel</c> at once, across cycles),
/// each run doing its handoff check first, then tell the listeners. A run outlives the cycle that started it, so
/// one slow route never holds up the drafts behind it; when a run ends it tells the listeners too (a retry to
/// schedule, a gap to reconcile, more drafts due). Cycles never overlap; the Quartz job is a
/// thin shell around <see cref="StartCycleAsync"/>.
/// </summary>
internal sealed class ExecutorCycle(
    DraftStore store,
    IOptions<ExecutorRoutesOptions> routes,
    IOptions<ExecutionOptions> options,
    CommandRunner commands,
    WebhookRunner webhooks,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    IEnumerable<IExecutorCycleListener> listeners,
    ILogger<ExecutorCycle> logger) : IHostedService
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    // Run slots shared by all cycles; made under the gate on first use, after the options were validated on start.
    private SemaphoreSlim? _slots;

    // Drafts this process has queued for a slot or is executing right now, with their runs. The store's writer lock
    // makes this process the only one, so an executing push draft not in here was left behind by one that died mid-run.
    private readonly ConcurrentDictionary<string, Task<DraftState?>> _runs = new(StringComparer.Ordinal);

    // Set when a cycle left due drafts in the store for lack of room: the next run to end asks for a cycle at once.
    private int _starved;

    // Whether this process has ended the approvals whose attempts its routes no longer allow (EndExhaustedAsync). The
    // approvals of a store restored from a backup were settled before (SettleRestoredApprovals, as the store opened).
    // Only touched under the gate.
    private bool _exhaustedEnded;

    // Whether recovery still looks past the running leases of pull kinds' drafts, for push runs that a process before this one
    // started and a crash cut off, the kind moved to pull since: their push lease is no claim's. Only an earlier process
    // can have started one (the routes are read once), so once a pass has recovered all there were, none is left to find.
    // Only touched under the gate.
    private bool _pushRunsOfPullKinds = true;

    // Attempts that ran while the store could not record their outcome: written at the start of the next cycles, and
    // until then kept from recovery, which would take them for interrupted. Lost with the process; recovery then takes the
    // draft as cut off (unknown, or run again under its key on a route that dedupes). Refused twice, not for the store
    // being away: made unknown with the outcome (GiveUpAsync).
    private readonly ConcurrentDictionary<string, Unrecorded> _unrecorded = new(StringComparer.Ordinal);

    private sealed record Unrecorded(ExecutionRequest Request, string Lease, AttemptOutcome Outcome, ExecutorRouteOptions Route, string Actor);

    private ExecutorRoutesOptions Routes => routes.Value;

    private ExecutionOptions Options => options.Value;

    /// <summary>
    /// Runs one cycle and waits for its runs and for every run still going from an earlier cycle, so drafts approved
    /// before the call have been attempted when it returns (given a free slot).
    /// </summary>
    public async Task<ExecutorCycleResult> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var (recovered, started, others) = await StartRunsAsync(cancellationToken).ConfigureAwait(false);
        var outcomes = await Task.WhenAll(started).ConfigureAwait(false);
        await Task.WhenAll(others).ConfigureAwait(false);
        var result = ExecutorCycleResult.Of(recovered, outcomes, NextDueAt(time.GetUtcNow()));
        await NotifyAsync(result, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// The job's cycle: recovery and the start of every due run, without waiting for the runs; each tells the
    /// listeners as it ends. <see cref="ExecutorCycleResult.Started"/> counts the runs launched and, at the first cycle after
    /// a start, the drafts a lowered MaxAttempts ended there (told as the runs that would have ended them).
    /// </summary>
    public async Task<ExecutorCycleResult> StartCycleAsync(CancellationToken cancellationToken)
    {
        var (recovered, started, _) = await StartRunsAsync(cancellationToken).ConfigureAwait(false);
        var result = new ExecutorCycleResult(recovered, started.Count, 0, 0, 0, NextDueAt(time.GetUtcNow()));
        await NotifyAsync(result, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>At stop, waits for the runs still going: the stop cancels them and each records its interruption.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_runs.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Cancelled runs recorded themselves (or logged why they could not: recovery takes them after the next
            // start); the stop goes on either way.
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Under the gate: late outcomes, recovery, then a run for each due draft, queued for a slot (oldest first).
    /// Others are the runs of earlier cycles still queued or going, taken under the gate so that none started before
    /// this cycle is missed.
    /// </summary>
    private async Task<(int Recovered, List<Task<DraftState?>> Started, List<Task<DraftState?>> Others)> StartRunsAsync(
        CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
            await RecordLateOutcomesAsync().ConfigureAwait(false);
            var recovered = await RecoverAsync(linked.Token).ConfigureAwait(false);
            var slots = _slots ??= new SemaphoreSlim(Options.MaxParallel, Options.MaxParallel);
            var started = new List<Task<DraftState?>>();
            if (!_exhaustedEnded)
            {
                // Told as the runs that would have ended them at their retry times would have told them.
                started.AddRange((await EndExhaustedAsync().ConfigureAwait(false)).Select(Task.FromResult));
                _exhaustedEnded = true;
            }
            var snapshot = _runs.ToArray();
            var others = snapshot.Select(r => r.Value).ToList();
            // Runs are added only here, under the gate: a draft not in this snapshot has no run, and one in it may end
            // after the query below read it (a retry then waits out its backoff), so it must not be queued again.
            var known = snapshot.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
            // At most a batch waits for a slot in memory; the rest stay in the store until runs end.
            var room = Options.BatchSize + Options.MaxParallel - others.Count;
            if (room <= 0)
            {
                Interlocked.Exchange(ref _starved, 1);
                return (recovered, started, others);
            }
            // Drafts queued here are still approved in the store, so read past them.
            var limit = Math.Min(room, Options.BatchSize) + others.Count;
            var due = DueDrafts(time.GetUtcNow(), limit);
            foreach (var draft in due)
            {
                if (known.Contains(draft.Id) || !Routes.TryGet(draft.Kind, out var route))
                {
                    continue;
                }
                var run = new TaskCompletionSource<DraftState?>(TaskCreationOptions.RunContinuationsAsynchronously);
                _runs[draft.Id] = run.Task;
                started.Add(run.Task);
                _ = RunAsync(draft, route, run, slots);
            }
            if (due.Count == limit)
            {
                // More may be due than this cycle read: the next run to end asks for another cycle.
                Interlocked.Exchange(ref _starved, 1);
            }
            return (recovered, started, others);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// One run, on its own: waits for a slot, executes, frees the slot and its place in <see cref="_runs"/>, then
    /// tells the listeners how it ended and when the executor is due next (at once when drafts were left in the store
    /// for lack of room).
    /// </summary>
    private async Task RunAsync(Draft draft, ExecutorRouteOptions route, TaskCompletionSource<DraftState?> run, SemaphoreSlim slots)
    {
        DraftState? state = null;
        Exception? stopped = null;
        var holding = false;
        try
        {
            await slots.WaitAsync(lifetime.ApplicationStopping).ConfigureAwait(false);
            holding = true;
            state = await ExecuteAsync(draft, route, lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            stopped = ex;
        }
        finally
        {
            _runs.TryRemove(draft.Id, out _);
            if (holding)
            {
                slots.Release();
            }
        }
        if (stopped is OperationCanceledException cancelled)
        {
            run.TrySetCanceled(cancelled.CancellationToken);
            return;
        }
        if (stopped is not null)
        {
            run.TrySetException(stopped);
        }
        else
        {
            run.TrySetResult(state);
        }
        // Every end is told, an executed one while others still run too: the reconcile pass it brings closes what the
        // run settled (a stuck or failed gap) now rather than at the next interval. The listeners coalesce a burst.
        var now = time.GetUtcNow();
        DateTimeOffset? due;
        try
        {
            due = Interlocked.Exchange(ref _starved, 0) == 1 ? now : NextDueAt(now);
        }
        catch (StoreUnavailableException ex)
        {
            // Nobody awaits this task: say so, and ask for a cycle now rather than lose a retry's wake-up.
            logger.CycleStoreUnavailable(ex.Message);
            due = now;
        }
        await NotifyAsync(ExecutorCycleResult.Of(0, [state], due), CancellationToken.None).ConfigureAwait(false);
    }

    private async Task NotifyAsync(ExecutorCycleResult result, CancellationToken cancellationToken)
    {
        foreach (var listener in listeners)
        {
            try
            {
                await listener.AfterCycleAsync(result, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.ListenerFailed(ex, listener.GetType().Name);
            }
        }
    }

    /// <summary>Executing drafts read by recovery per query; the next page is read from where this one ended.</summary>
    internal const int RecoveryPage = 256;

    /// <summary>
    /// Executing drafts whose holder may be gone, in seq order from <c>$after</c> on, at most <c>$limit</c>: every one but a
    /// pull draft whose lease still runs (<paramref name="pullInList"/>: the pull kinds' parameters from <see cref="KindsIn"/>,
    /// null when there are none; a lease with no end has run out). Only the columns recovery needs, not the text:
    /// drafts_by_state finds the executing ones, the seq term pages through them. With <paramref name="pushRuns"/>, a pull
    /// draft whose lease runs is left out only if its attempt was started as a claim: its last <c>execution_started</c> names
    /// the pull route, or no route (an older build's, judged by the kind's route, as <see cref="RecoverOneAsync"/> does).
    /// </summary>
    internal static string HeldSql(string? pullInList, bool pushRuns = false) =>
        "SELECT seq, id, kind, lease_token, lease_until FROM drafts WHERE state = 'executing' AND seq > $after" +
        (pullInList is null ? "" : $" AND NOT (kind IN ({pullInList}) AND IFNULL(lease_until, 0) > $now{(pushRuns ? " AND " + StartedAsClaim : "")})") +
        " ORDER BY seq LIMIT $limit";

    /// <summary>
    /// Whether the draft's last <c>execution_started</c> says pull or names no route (<see cref="AttemptEvents.RouteOf"/>: a text
    /// <c>route</c> field, none in details that are not JSON): its own events, read backwards through events_by_draft.
    /// </summary>
    private const string StartedAsClaim =
        "IFNULL((SELECT CASE WHEN json_valid(details) AND json_type(details, '$.route') = 'text' THEN json_extract(details, '$.route') END" +
        " FROM events WHERE draft_id = drafts.id AND type = '" + AttemptEvents.ExecutionStarted + "' ORDER BY id DESC LIMIT 1), 'pull') = 'pull'";

    /// <summary>What recovery reads of an executing draft.</summary>
    private sealed record Held(long Seq, string Id, string Kind, string? LeaseToken, DateTimeOffset? LeaseUntil);

    /// <summary>
    /// Executing drafts whose holder is gone: a pull lease that expired, or a push run of a process that died. Read page by
    /// page, so that however many leases still run ahead of it (a pull agent holding thousands), none is left unread.
    /// </summary>
    private async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var count = 0;
        var pushRuns = _pushRunsOfPullKinds;
        var pushRunLeft = false;
        for (var after = 0L; ;)
        {
            var page = HeldExecutions(now, after, pushRuns);
            foreach (var d in page)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (await RecoverOneAsync(d, now).ConfigureAwait(false))
                {
                    count++;
                }
                else if (pushRuns && d.LeaseUntil > now && Routes.TryGet(d.Kind, out var route) && route.RouteType == RouteType.Pull)
                {
                    // A push run of a pull kind not recovered (a leftover of its session still runs): the next passes look again.
                    pushRunLeft = true;
                }
            }
            if (page.Count < RecoveryPage)
            {
                _pushRunsOfPullKinds = pushRunLeft;
                return count;
            }
            after = page[^1].Seq;
        }
    }

    private async Task<bool> RecoverOneAsync(Held d, DateTimeOffset now)
    {
        var hasRoute = Routes.TryGet(d.Kind, out var route);
        var current = hasRoute ? ExecutionLedger.RouteName(route) : null;
        // A push run of this service (running, or its outcome waiting to be written) is not cut off; only push runs are held
        // there, so a pull claim never is.
        if (_runs.ContainsKey(d.Id) || _unrecorded.ContainsKey(d.Id))
        {
            return false;
        }
        // A command run of a killed service may still be going: it must be gone before the draft is judged. A draft with no
        // run on record (a pull claim, a webhook) has nothing to end.
        if (!await commands.EndLeftoverAsync(d.Id).ConfigureAwait(false))
        {
            return false;
        }
        var recovered = await store.WriteAsync<(Draft Draft, string Reason)?>(ctx =>
        {
            // Judged by how the attempt was started, not by the kind's route now: the operator may have moved the kind to
            // another route (or to none) since. An older build's start names no route; the kind's route then tells.
            var startedOn = ExecutionLedger.StartedOn(ctx, d.Id) ?? current;
            string reason;
            string eventType;
            if (startedOn == "pull")
            {
                // A claim's lease that still runs is its agent's, whatever route the kind has now. HeldSql leaves out the pull
                // kinds' claims whose lease still runs (not a push run's, at the first passes), and a lease is never extended;
                // anything that moved the draft since is caught by Recover's compare-and-set on the lease.
                if (d.LeaseUntil is { } until && until > now) return null;
                reason = $"the pull lease expired at {d.LeaseUntil:O} without complete or fail";
                eventType = AttemptEvents.LeaseExpired;
            }
            else
            {
                // A push run cut off by a crash: the same event a shutdown records, not a pull lease that expired
                // (which the reconciler reports as an orphan of its own).
                reason = "the attempt's outcome was never recorded (the service stopped while it ran, or could not write the outcome)";
                eventType = AttemptEvents.ExecutionInterrupted;
            }
            var draft = ExecutionLedger.Recover(ctx, d.Id, d.LeaseToken, hasRoute ? route : null, reason, eventType, startedOn);
            return draft is null ? null : (draft, reason);
        }).ConfigureAwait(false);
        if (recovered is not { } r)
        {
            return false;
        }
        logger.ExecutionRecovered(d.Id, d.Kind, r.Reason, r.Draft.State.ToWire(), r.Draft.ExecKey);
        return true;
    }

    private List<Held> HeldExecutions(DateTimeOffset now, long after, bool pushRuns)
    {
        var pull = Routes.Routes.Where(r => r.Value.RouteType == RouteType.Pull).Select(r => r.Key).Order(StringComparer.Ordinal).ToList();
        var (inList, parameters) = KindsIn(pull);
        return store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = HeldSql(pull.Count == 0 ? null : inList, pushRuns);
            foreach (var (name, value) in parameters)
            {
                cmd.Parameters.AddWithValue(name, value);
            }
            cmd.Parameters.AddWithValue("$now", DraftColumns.ToUnixMs(now));
            cmd.Parameters.AddWithValue("$after", after);
            cmd.Parameters.AddWithValue("$limit", RecoveryPage);
            using var reader = cmd.ExecuteReader();
            var page = new List<Held>();
            while (reader.Read())
            {
                page.Add(new Held(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4))));
            }
            return page;
        });
    }

    /// <summary>
    /// One draft's attempt. Nothing but a stop escapes: an error in one run must not touch the others, and a run
    /// whose outcome could not be written is left to the next cycles (or to recovery, the safe side).
    /// </summary>
    private async Task<DraftState?> ExecuteAsync(Draft candidate, ExecutorRouteOptions route, CancellationToken stopping)
    {
        try
        {
            // A slot that came free as the service stops: nothing has begun, the draft stays approved for the next start.
            stopping.ThrowIfCancellationRequested();
            var actor = "executor:" + ExecutionLedger.RouteName(route);
            // Lease: the whole attempt plus slack; only a pull lease is ever judged by its time (see RecoverAsync).
            var lease = route.Timeout * 2 + TimeSpan.FromSeconds(30);
            var begin = await store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, candidate.Id, actor, route, lease, Stage))
                .ConfigureAwait(false);
            if (NotRun(begin, route) is { } ended)
            {
                return ended;
            }
            if (begin.Started is not { } request)
            {
                return null;
            }
            if (stopping.IsCancellationRequested)
            {
                // The stop came while the begin was being written: nothing has been started or sent, so the draft goes back
                // to approved, its attempt not counted, rather than to a route that would be cut off at once (and the draft
                // left unknown, for a human to check a sink nothing reached).
                await store.WriteAsync(ctx => ExecutionLedger.NotStarted(ctx, request.Draft.Id, begin.Lease!,
                    "the service was stopping; the attempt was not started")).ConfigureAwait(false);
                logger.AttemptNotStarted(request.Draft.Id, request.Draft.Kind, request.Attempt);
                stopping.ThrowIfCancellationRequested();
            }
            logger.ExecutionStarted(request.Draft.Id, request.Draft.Kind, actor, request.Attempt, request.IdempotencyKey);
            AttemptOutcome outcome;
            try
            {
                outcome = route.RouteType == RouteType.Webhook
                    ? await webhooks.RunAsync(route, request, stopping).ConfigureAwait(false)
                    : await commands.RunAsync(route, request, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // Shutdown cut the attempt off: whether it took effect is unknown, so record it like a crash would be.
                await store.WriteAsync(ctx => ExecutionLedger.Recover(ctx, request.Draft.Id, begin.Lease, route,
                    "the service stopped while the attempt was running", AttemptEvents.ExecutionInterrupted)).ConfigureAwait(false);
                throw;
            }
            catch (Exception ex)
            {
                // The route's runner failed in a way it does not expect: the request may have gone out.
                logger.AttemptFailedUnexpectedly(ex, request.Draft.Id, request.Draft.Kind, request.Attempt);
                outcome = AttemptOutcome.Interrupted($"the attempt ended with an unexpected error ({ex.GetType().Name}: {ex.Message})");
            }
            // In the log before the store: should the service die before the write, the draft becomes unknown, and this line
            // is what tells the operator how the run really ended (the post's URL, or the exit code and stderr).
            logger.AttemptEnded(request.Draft.Id, request.Draft.Kind, request.Attempt, request.IdempotencyKey, outcome.Word, outcome.Detail);
            FinishResult finish;
            try
            {
                finish = await store.WriteAsync(
                    ctx => ExecutionLedger.Finish(ctx, request.Draft.Id, begin.Lease!, outcome, route, Options, actor)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The route ran: keep its outcome for the next cycles to record, and say now what it was. Any failure of
                // the write, not only the store being away: dropped, recovery would take a finished run for cut off
                // (unknown, or a rerun under its key). One that fails again is given up there (RecordLateOutcomesAsync).
                _unrecorded[request.Draft.Id] = new Unrecorded(request, begin.Lease!, outcome, route, actor);
                logger.OutcomeNotRecorded(request.Draft.Id, request.Draft.Kind, request.Attempt,
                    outcome.Word, outcome.Detail, ex is StoreUnavailableException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}");
                return null;
            }
            return Finished(request, outcome, finish);
        }
        catch (StoreUnavailableException ex)
        {
            // Nothing ran (the begin could not be written), or a stop's record could not be: the next cycles retry.
            logger.CycleStoreUnavailable(ex.Message);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.RunFailed(ex, candidate.Id);
            return null;
        }
    }

    /// <summary>Logs a draft that <see cref="ExecutionLedger.Begin"/> or <see cref="ExecutionLedger.EndExhausted"/> ended instead of running; its state, or null.</summary>
    private DraftState? NotRun(BeginResult begin, ExecutorRouteOptions route)
    {
        if (begin.Unsettled is { } unsettled)
        {
            logger.UnsettledByRouteChange(unsettled.Id, unsettled.Kind, unsettled.ExecAttempts, ExecutionLedger.RouteName(route), begin.UnsettledReason!);
            return DraftState.Unknown;
        }
        if (begin.Blocked is { } blocked)
        {
            logger.HandoffBlocked(blocked, begin.Problem!, Stage);
            return DraftState.Blocked;
        }
        if (begin.Exhausted is { } exhausted)
        {
            logger.AttemptsExhausted(exhausted.Id, exhausted.Kind, exhausted.ExecAttempts, route.MaxAttempts);
            return DraftState.Failed;
        }
        return null;
    }

    /// <summary>The executor's stage in a handoff check's record (a pull claim's is <c>claim</c>).</summary>
    private const string Stage = "execute";

    /// <summary>
    /// Approved drafts that have made at least <c>$fewest</c> attempts (the executor asks for every one with an attempt: a
    /// route that stopped deduping, or a kind moved to a route of another type, ends such a draft too); each one's own route decides. drafts_by_state finds the approved drafts.
    /// </summary>
    internal const string ExhaustedSql = "SELECT id, kind FROM drafts WHERE state = 'approved' AND exec_attempts >= $fewest ORDER BY seq";

    /// <summary>
    /// Ends every approved draft, push or pull, that has made as many attempts as its route allows now: failed
    /// (attempts_exhausted), or blocked when its handoff check fails, as each would have ended when its retry came, so that
    /// a lowered MaxAttempts applies at once rather than at retry times up to RetryMaxSeconds away; and makes unknown every one
    /// left to a rerun under its key that its route cannot rerun now (Idempotent turned off, or the kind moved to a route of
    /// another type), as Begin would at its retry time. Once per process: only a route changed while the draft waited leaves
    /// such a draft, and the routes are read once, at start (an attempt that uses the last one allowed ends its draft itself).
    /// Returns the states they were left in.
    /// </summary>
    private async Task<List<DraftState?>> EndExhaustedAsync()
    {
        if (Routes.Routes.Count == 0)
        {
            return [];
        }
        // Every draft with an attempt on record: its last attempt may have taken effect under a route that deduped, and its
        // route may not dedupe now or be of another type (EndExhausted judges each by its own route and ledger).
        const int fewest = 1;
        var ended = await store.WriteAsync(ctx =>
        {
            var approved = new List<(string Id, string Kind)>();
            using (var cmd = ctx.Command(ExhaustedSql, ("$fewest", fewest)))
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read()) approved.Add((reader.GetString(0), reader.GetString(1)));
            }
            var results = new List<(BeginResult Result, ExecutorRouteOptions Route)>();
            foreach (var (id, kind) in approved)
            {
                if (Routes.TryGet(kind, out var route))
                {
                    results.Add((ExecutionLedger.EndExhausted(ctx, id, "executor", route, Stage), route));
                }
            }
            return results;
        }).ConfigureAwait(false);
        return [.. ended.Select(e => NotRun(e.Result, e.Route)).Where(state => state is not null)];
    }

    private DraftState? Finished(ExecutionRequest request, AttemptOutcome outcome, FinishResult finish)
    {
        if (finish.LeaseLost)
        {
            logger.LeaseLost(request.Draft.Id, request.Attempt, finish.Draft?.State.ToWire());
            return null;
        }
        if (outcome.Succeeded)
        {
            logger.Executed(request.Draft.Id, request.Draft.Kind, request.Attempt, outcome.Result);
        }
        else
        {
            logger.ExecutionFailed(request.Draft.Id, request.Draft.Kind, request.Attempt, finish.Draft!.State.ToWire(), outcome.Error);
        }
        return finish.Draft!.State;
    }

    /// <summary>
    /// Records the outcomes the store could not take when their attempts ended; stops at the first the store still cannot
    /// take (away). One refused for a reason of the write's own a second time is given up (<see cref="GiveUpAsync"/>).
    /// </summary>
    private async Task RecordLateOutcomesAsync()
    {
        foreach (var (id, late) in _unrecorded)
        {
            FinishResult finish;
            try
            {
                finish = await store.WriteAsync(
                    ctx => ExecutionLedger.Finish(ctx, id, late.Lease, late.Outcome, late.Route, Options, late.Actor)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not StoreUnavailableException)
            {
                await GiveUpAsync(id, late, ex).ConfigureAwait(false);
                continue;
            }
            _unrecorded.TryRemove(id, out _);
            Finished(late.Request, late.Outcome, finish);
        }
    }

    /// <summary>
    /// An outcome the store refused twice, not for being away: retried, it would fail every cycle. The route ran and its
    /// outcome is known, so the draft is not left to recovery, which on a route that dedupes queues it again (the route then
    /// runs again, to the same refusal, until the draft ends failed for a reason that hides the outcome): it is made unknown,
    /// the outcome in its error, for a human to check the sink and Mark done or Retry. Should that write fail too (not for the
    /// store being away, which keeps the outcome for the next cycle), recovery takes the draft, as after a crash.
    /// </summary>
    private async Task GiveUpAsync(string id, Unrecorded late, Exception refusal)
    {
        var word = late.Outcome.Word;
        var detail = late.Outcome.Detail;
        var reason = $"attempt {late.Request.Attempt} {word}{(string.IsNullOrEmpty(detail) ? "" : $" ({detail})")} " +
            $"but its outcome could not be recorded ({refusal.GetType().Name}: {refusal.Message})";
        string action;
        try
        {
            var draft = await store.WriteAsync(ctx => ExecutionLedger.OutcomeNotRecorded(ctx, id, late.Lease, late.Route, reason)).ConfigureAwait(false);
            action = draft is null
                ? "the draft had left executing under this attempt's lease meanwhile, so it was left as it is"
                : "the draft is now unknown, the outcome in its error: check the sink, then Mark done or Retry";
        }
        catch (Exception ex) when (ex is not StoreUnavailableException)
        {
            action = $"the draft could not be made unknown either ({ex.GetType().Name}: {ex.Message}), so it is left to recovery";
        }
        _unrecorded.TryRemove(id, out _);
        logger.OutcomeGivenUp(refusal, id, late.Request.Draft.Kind, late.Request.Attempt, word, detail, action);
    }

    /// <summary>Approved drafts of push kinds whose retry time has come, oldest first (an index search: SqliteDatabaseTests checks the plan).</summary>
    private IReadOnlyList<Draft> DueDrafts(DateTimeOffset now, int limit)
    {
        var kinds = Routes.PushKinds();
        if (kinds.Count == 0) return [];
        var (inList, parameters) = KindsIn(kinds);
        return store.Query(DraftColumns.Select + DueWhere(inList), [.. parameters, ("$now", DraftColumns.ToUnixMs(now)), ("$limit", limit)]);
    }

    internal static string DueWhere(string inList) =>
        $" WHERE kind IN ({inList}) AND state = 'approved' AND (exec_next_at IS NULL OR exec_next_at <= $now) ORDER BY state_since, seq LIMIT $limit";

    /// <summary>
    /// The earliest retry time of the push kinds' approved drafts. Through the state's index (+kind): with one kind, SQLite,
    /// without statistics as a service's store is, took drafts_by_kind and read every draft of the kind, executed ones
    /// included, at every cycle.
    /// </summary>
    internal static string NextDueSql(string inList) =>
        $"SELECT MIN(exec_next_at) FROM drafts WHERE +kind IN ({inList}) AND state = 'approved' AND exec_next_at IS NOT NULL";

    private DateTimeOffset? NextDueAt(DateTimeOffset now)
    {
        var kinds = Routes.PushKinds();
        if (kinds.Count == 0) return null;
        var (inList, parameters) = KindsIn(kinds);
        return store.Read(connection =>
        {
            using var cmd = connection.CreateCommand();
            foreach (var (name, value) in parameters)
            {
                cmd.Parameters.AddWithValue(name, value);
            }
            cmd.CommandText = NextDueSql(inList);
            return cmd.ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        });
    }

    /// <summary>An <c>IN</c> list of parameters for <paramref name="kinds"/>: kind names come from configuration, never into the SQL text.</summary>
    private static (string InList, (string Name, object? Value)[] Parameters) KindsIn(IReadOnlyList<string> kinds) =>
        (DraftColumns.InList("$k", kinds.Count), DraftColumns.InListParameters("$k", kinds));
}
