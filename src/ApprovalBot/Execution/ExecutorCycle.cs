using System.Collections.Concurrent;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution;

/// <summary>
/// One sweep of the executor over the store: recover executions whose holder is gone, then run every due
/// approved draft of a push route (command, webhook) after its handoff check, then tell the listeners.
/// Cycles never overlap; the Quartz job is a thin shell around <see cref="RunOnceAsync"/>.
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
    ILogger<ExecutorCycle> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    // Drafts this process is executing right now. The store's writer lock makes this process the only one, so an
    // executing push draft not in here was left behind by a process that died mid-run.
    private readonly ConcurrentDictionary<string, byte> _inFlight = new(StringComparer.Ordinal);

    // Attempts that ran while the store could not record their outcome: written at the start of the next cycles, and
    // until then kept from recovery, which would take them for interrupted. Lost with the process; recovery then makes
    // the draft unknown, the safe side.
    private readonly ConcurrentDictionary<string, Unrecorded> _unrecorded = new(StringComparer.Ordinal);

    private sealed record Unrecorded(ExecutionRequest Request, string Lease, AttemptOutcome Outcome, ExecutorRouteOptions Route, string Actor);

    private ExecutorRoutesOptions Routes => routes.Value;

    private ExecutionOptions Options => options.Value;

    /// <summary>Runs one cycle; waits for a running one to end first, so drafts approved before the call have been attempted when it returns.</summary>
    public async Task<ExecutorCycleResult> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
            var token = linked.Token;
            await RecordLateOutcomesAsync().ConfigureAwait(false);
            var recovered = await RecoverAsync(token).ConfigureAwait(false);
            var outcomes = new ConcurrentBag<DraftState?>();
            var due = DueDrafts(time.GetUtcNow());
            await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = Options.MaxParallel, CancellationToken = token },
                async (draft, ct) => outcomes.Add(await ExecuteAsync(draft, ct).ConfigureAwait(false))).ConfigureAwait(false);
            var result = new ExecutorCycleResult(
                recovered,
                outcomes.Count(o => o is not null and not DraftState.Blocked),
                outcomes.Count(o => o == DraftState.Executed),
                outcomes.Count(o => o is DraftState.Failed or DraftState.Approved),
                outcomes.Count(o => o == DraftState.Blocked),
                NextDueAt(time.GetUtcNow()));
            foreach (var listener in listeners)
            {
                try
                {
                    await listener.AfterCycleAsync(result, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.ListenerFailed(ex, listener.GetType().Name);
                }
            }
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Executing drafts whose holder is gone: a pull lease that expired, or a push run of a process that died.</summary>
    private async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var count = 0;
        foreach (var d in store.InStates([DraftState.Executing], limit: 10_000))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var hasRoute = Routes.TryGet(d.Kind, out var route);
            string reason;
            string eventType;
            if (hasRoute && route.RouteType == RouteType.Pull)
            {
                if (d.LeaseUntil is { } until && until > now) continue;
                reason = $"the pull lease expired at {d.LeaseUntil:O} without complete or fail";
                eventType = ExecutionLedger.LeaseExpired;
            }
            else
            {
                // A push run cut off by a crash: the same event a shutdown records, not a pull lease that expired
                // (which the reconciler reports as an orphan of its own).
                if (_inFlight.ContainsKey(d.Id) || _unrecorded.ContainsKey(d.Id)) continue;
                reason = "the attempt's outcome was never recorded (the service stopped while it ran, or could not write the outcome)";
                eventType = ExecutionLedger.ExecutionInterrupted;
            }
            var recovered = await store.WriteAsync(
                ctx => ExecutionLedger.Recover(ctx, d.Id, d.LeaseToken, hasRoute ? route : null, reason, eventType)).ConfigureAwait(false);
            if (recovered is not null)
            {
                count++;
                logger.ExecutionRecovered(d.Id, d.Kind, reason, recovered.State.ToWire(), recovered.ExecKey);
            }
        }
        return count;
    }

    private async Task<DraftState?> ExecuteAsync(Draft candidate, CancellationToken cancellationToken)
    {
        if (!Routes.TryGet(candidate.Kind, out var route) || !_inFlight.TryAdd(candidate.Id, 0))
        {
            return null;
        }
        try
        {
            var actor = "executor:" + route.RouteType.ToString().ToLowerInvariant();
            // Lease: the whole attempt plus slack; only a pull lease is ever judged by its time (see RecoverAsync).
            var lease = route.Timeout * 2 + TimeSpan.FromSeconds(30);
            var begin = await store.WriteAsync(ctx => ExecutionLedger.Begin(ctx, candidate.Id, actor, route, lease, "execute"))
                .ConfigureAwait(false);
            if (begin.Blocked is { } blocked)
            {
                logger.HandoffBlocked(blocked, begin.Problem!, "execute");
                return DraftState.Blocked;
            }
            if (begin.Started is not { } request)
            {
                return null;
            }
            logger.ExecutionStarted(request.Draft.Id, request.Draft.Kind, actor, request.Attempt, request.IdempotencyKey);
            AttemptOutcome outcome;
            try
            {
                outcome = route.RouteType == RouteType.Webhook
                    ? await webhooks.RunAsync(route, request, cancellationToken).ConfigureAwait(false)
                    : await commands.RunAsync(route, request, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutdown cut the attempt off: whether it took effect is unknown, so record it like a crash would be.
                await store.WriteAsync(ctx => ExecutionLedger.Recover(ctx, request.Draft.Id, begin.Lease, route,
                    "the service stopped while the attempt was running", ExecutionLedger.ExecutionInterrupted)).ConfigureAwait(false);
                throw;
            }
            FinishResult finish;
            try
            {
                finish = await store.WriteAsync(
                    ctx => ExecutionLedger.Finish(ctx, request.Draft.Id, begin.Lease!, requireUnexpired: false, outcome, route, Options, actor)).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                // The route ran: keep its outcome for the next cycles to record, and say now what it was.
                _unrecorded[request.Draft.Id] = new Unrecorded(request, begin.Lease!, outcome, route, actor);
                logger.OutcomeNotRecorded(request.Draft.Id, request.Draft.Kind, request.Attempt,
                    outcome.Succeeded ? "succeeded" : "failed", outcome.Succeeded ? outcome.Result : outcome.Error, ex.Message);
                throw;
            }
            return Finished(request, outcome, finish);
        }
        finally
        {
            _inFlight.TryRemove(candidate.Id, out _);
        }
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

    /// <summary>Records the outcomes the store could not take when their attempts ended; stops at the first that still fails.</summary>
    private async Task RecordLateOutcomesAsync()
    {
        foreach (var (id, late) in _unrecorded)
        {
            FinishResult finish;
            try
            {
                finish = await store.WriteAsync(
                    ctx => ExecutionLedger.Finish(ctx, id, late.Lease, requireUnexpired: false, late.Outcome, late.Route, Options, late.Actor)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not StoreUnavailableException)
            {
                // Not the store being away: retrying would fail every cycle and hold the executor up. Recovery takes
                // the draft (unknown) instead; its outcome is in the log since the attempt ended.
                _unrecorded.TryRemove(id, out _);
                logger.CycleFailed(ex);
                continue;
            }
            _unrecorded.TryRemove(id, out _);
            Finished(late.Request, late.Outcome, finish);
        }
    }

    /// <summary>Approved drafts of push kinds whose retry time has come, oldest first (an index search: SqliteDatabaseTests checks the plan).</summary>
    private IReadOnlyList<Draft> DueDrafts(DateTimeOffset now)
    {
        var kinds = Routes.PushKinds();
        if (kinds.Count == 0) return [];
        var (inList, parameters) = KindsIn(kinds);
        return store.Query(
            DraftColumns.Select + $" WHERE kind IN ({inList}) AND state = 'approved' AND (exec_next_at IS NULL OR exec_next_at <= $now)" +
            " ORDER BY state_since, seq LIMIT $limit",
            [.. parameters, ("$now", DraftColumns.ToUnixMs(now)), ("$limit", Options.BatchSize)]);
    }

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
            cmd.CommandText = $"SELECT MIN(exec_next_at) FROM drafts WHERE kind IN ({inList}) AND state = 'approved' AND exec_next_at IS NOT NULL";
            return cmd.ExecuteScalar() is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
        });
    }

    /// <summary>An <c>IN</c> list of parameters for <paramref name="kinds"/>: kind names come from configuration, never into the SQL text.</summary>
    private static (string InList, (string Name, object? Value)[] Parameters) KindsIn(IReadOnlyList<string> kinds)
    {
        var parameters = kinds.Select((kind, i) => ("$k" + i, (object?)kind)).ToArray();
        return (string.Join(", ", parameters.Select(p => p.Item1)), parameters);
    }
}
