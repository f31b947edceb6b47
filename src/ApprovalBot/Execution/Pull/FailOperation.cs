using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution.Pull;

/// <summary>
/// <c>fail</c>: the pull executor could not post. Retryable failures go back to the queue with a backoff while
/// attempts remain; others (and <c>retryable</c> left out) become failed, for the approver to decide. With
/// <c>may_have_taken_effect</c> the executor cannot tell whether it posted: taken as a push route takes a run cut off
/// (on a route that dedupes, the same as above but the draft cannot be withdrawn; on one that does not, unknown).
/// </summary>
internal sealed class FailOperation(
    DraftStore store,
    IOptions<ExecutorRoutesOptions> routes,
    IOptions<ExecutionOptions> options,
    ILogger<FailOperation> logger) : IPipeOperation
{
    public string Name => Ops.Fail;

    public async Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var fail = StrictRequest.Read(request, ProtocolJsonContext.Default.FailRequest);
        PullRoute.RequireText(fail.Id, "id", required: true);
        PullRoute.RequireText(fail.Lease, "lease", required: true);
        PullRoute.RequireLine(fail.Error, "error", required: true, AttemptOutcome.MaxErrorChars);
        var outcome = AttemptOutcome.Failure(fail.Error, fail.Retryable ?? false, fail.MayHaveTakenEffect ?? false);
        var draft = await PullRoute.FinishAsync(store, routes.Value, options.Value, fail.Id, fail.Lease, outcome).ConfigureAwait(false);
        logger.ExecutionFailed(draft.Id, draft.Kind, draft.ExecAttempts, draft.State.ToWire(), draft.ExecError);
        return new Response { Ok = true, Draft = draft.ToView() };
    }
}
