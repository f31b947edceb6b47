using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution.Pull;

/// <summary>
/// <c>claim</c>: hands approved drafts of a pull kind to an agent that executes them itself, each under a lease.
/// Every draft passes the handoff check first; one that fails it is blocked and not handed out.
/// </summary>
internal sealed class ClaimOperation(
    DraftStore store,
    IOptions<ExecutorRoutesOptions> routes,
    IOptions<KindsOptions> kinds,
    ILogger<ClaimOperation> logger) : IPipeOperation
{
    public const int DefaultMax = 10;
    public const int MaxMax = 100;
    public const int DefaultLeaseSeconds = 60;
    public const int MinLeaseSeconds = 5;
    public const int MaxLeaseSeconds = 3600;
    private static readonly IntegerRange MaxRange = new("max", 1, MaxMax);
    private static readonly IntegerRange LeaseRange = new("lease_seconds", MinLeaseSeconds, MaxLeaseSeconds);

    public string Name => Ops.Claim;

    public async Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var claim = StrictRequest.Read(request, ProtocolJsonContext.Default.ClaimRequest, MaxRange, LeaseRange);
        if (!kinds.Value.Kinds.ContainsKey(claim.Kind))
        {
            throw new ProtocolException(ErrorCodes.UnknownKind, $"unknown kind '{(claim.Kind.Length <= 64 ? claim.Kind : claim.Kind[..64] + "…")}'", "kind");
        }
        if (!routes.Value.TryGet(claim.Kind, out var route) || route.RouteType != RouteType.Pull)
        {
            var has = routes.Value.TryGet(claim.Kind, out var other) ? $"its route is {other.Type}" : "it has no executor route";
            throw new ProtocolException(ErrorCodes.Invalid, $"kind '{claim.Kind}' is not executed by pull ({has})", "kind");
        }
        var max = MaxRange.ValueOr(claim.Max, DefaultMax);
        var leaseSeconds = LeaseRange.ValueOr(claim.LeaseSeconds, DefaultLeaseSeconds);
        var lease = TimeSpan.FromSeconds(leaseSeconds);
        var results = await store.WriteAsync(ctx =>
        {
            var ids = new List<string>();
            using (var cmd = ctx.Command(
                "SELECT id FROM drafts WHERE kind = $kind AND state = 'approved' AND (exec_next_at IS NULL OR exec_next_at <= $now) ORDER BY state_since, seq LIMIT $max",
                ("$kind", claim.Kind), ("$now", ctx.NowMs), ("$max", max)))
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read()) ids.Add(reader.GetString(0));
            }
            return ids.Select(id => ExecutionLedger.Begin(ctx, id, AttemptEvents.PullActorPrefix + claim.Kind, route, lease, "claim")).ToList();
        }).ConfigureAwait(false);

        var claimed = new List<ClaimedDraft>();
        foreach (var r in results)
        {
            if (r.Blocked is { } blocked)
            {
                logger.HandoffBlocked(blocked, r.Problem!, "claim");
            }
            else if (r.Exhausted is { } exhausted)
            {
                logger.AttemptsExhausted(exhausted.Id, exhausted.Kind, exhausted.ExecAttempts, route.MaxAttempts);
            }
            else if (r.Unsettled is { } unsettled)
            {
                logger.UnsettledByRouteChange(unsettled.Id, unsettled.Kind, unsettled.ExecAttempts, "pull", r.UnsettledReason!);
            }
            else if (r.Started is { } started)
            {
                logger.ExecutionStarted(started.Draft.Id, started.Draft.Kind, "pull", started.Attempt, started.IdempotencyKey);
                var view = started.Draft.ToView();
                claimed.Add(new ClaimedDraft
                {
                    Id = started.Draft.Id,
                    Kind = started.Draft.Kind,
                    Agent = started.Draft.Agent,
                    Text = started.Text,
                    Sha256 = started.Draft.Sha256,
                    Context = view.Context,
                    ContextError = view.ContextError,
                    IdempotencyKey = started.IdempotencyKey,
                    Lease = r.Lease!,
                    LeaseUntil = r.LeaseUntil,
                    Attempt = started.Attempt,
                    Decision = view.Decision,
                });
            }
        }
        return new Response { Ok = true, Claimed = claimed };
    }
}
