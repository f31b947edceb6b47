using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;
using ApprovalBot.Pipe.Operations;

namespace ApprovalBot.Execution.Pull;

/// <summary>Boundary checks and the lease-bound finish shared by the pull ops.</summary>
internal static class PullRoute
{
    public const int MaxTextField = 2000;

    public static void RequireText(string? value, string field, bool required, int max = MaxTextField)
    {
        if (value is null)
        {
            if (required) throw new ProtocolException(ErrorCodes.Invalid, $"required field '{field}' is missing", field);
            return;
        }
        if (required && string.IsNullOrWhiteSpace(value))
        {
            throw new ProtocolException(ErrorCodes.Invalid, "must not be empty", field);
        }
        if (value.Length > max)
        {
            throw new ProtocolException(ErrorCodes.Invalid, $"must be at most {max} characters", field);
        }
    }

    /// <summary>
    /// An executor's <c>result</c> or <c>error</c>, shown on the approver's card and written to the console log: checked as
    /// a cancel's <c>reason</c> is. One line, because the console log writes it as sent, so a line break would let an
    /// executor write lines that read as the service's own (and on the card, lines that read as the card's); a push route
    /// keeps only its program's first line of output for the same reason.
    /// </summary>
    public static void RequireLine(string? value, string field, bool required, int max)
    {
        if (value is null)
        {
            if (required) throw new ProtocolException(ErrorCodes.Invalid, $"required field '{field}' is missing", field);
            return;
        }
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ProtocolException(ErrorCodes.Invalid, required ? DraftTextRules.Empty : $"{DraftTextRules.Empty} (leave {field} out to give none)", field);
        }
        if (value.Length > max)
        {
            throw new ProtocolException(ErrorCodes.Invalid, $"must be at most {max} characters", field);
        }
        if (DraftTextRules.LineProblem(value, field) is { } problem)
        {
            throw new ProtocolException(ErrorCodes.Invalid, problem, field);
        }
    }

    public static ProtocolException LeaseLost(string id) =>
        new(ErrorCodes.LeaseLost, $"draft '{(id.Length <= 64 ? id : id[..64] + "…")}' is not executing under this lease (it was finished, or its lease ran out and the executor took the draft back)", "lease");

    /// <summary>The route of a claimed draft's kind; the draft kept its kind, but the config may have changed since.</summary>
    public static ExecutorRouteOptions RouteOrDefault(ExecutorRoutesOptions routes, string kind) =>
        routes.TryGet(kind, out var route) ? route : new ExecutorRouteOptions { Type = "pull", MaxAttempts = 1 };

    /// <summary>
    /// Ends a claimed draft's attempt with <paramref name="outcome"/>, only for the holder of the draft's current lease
    /// (past its time too, until the executor's recovery has taken the draft); refuses with <c>not_found</c> or
    /// <c>lease_lost</c> otherwise.
    /// </summary>
    public static async Task<Draft> FinishAsync(DraftStore store, ExecutorRoutesOptions routes, ExecutionOptions options,
        string id, string lease, AttemptOutcome outcome)
    {
        var finish = await store.WriteAsync(ctx =>
        {
            var d = ctx.ReadDraft(id);
            return d is null
                ? null
                : ExecutionLedger.Finish(ctx, id, lease, outcome, RouteOrDefault(routes, d.Kind), options, AttemptEvents.PullActorPrefix + d.Kind);
        }).ConfigureAwait(false);
        if (finish is null) throw GetOperation.NotFound(id);
        if (finish.LeaseLost) throw LeaseLost(id);
        return finish.Draft!;
    }
}
