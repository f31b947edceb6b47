using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution.Pull;

/// <summary><c>complete</c>: the pull executor posted the draft; only the draft's current lease may say so.</summary>
internal sealed class CompleteOperation(
    DraftStore store,
    IOptions<ExecutorRoutesOptions> routes,
    IOptions<ExecutionOptions> options,
    ILogger<CompleteOperation> logger) : IPipeOperation
{
    public string Name => Ops.Complete;

    public async Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var complete = StrictRequest.Read(request, ProtocolJsonContext.Default.CompleteRequest);
        PullRoute.RequireText(complete.Id, "id", required: true);
        PullRoute.RequireText(complete.Lease, "lease", required: true);
        PullRoute.RequireLine(complete.Result, "result", required: false, AttemptOutcome.MaxResultChars);
        var outcome = AttemptOutcome.Success(complete.Result);
        var draft = await PullRoute.FinishAsync(store, routes.Value, options.Value, complete.Id, complete.Lease, outcome).ConfigureAwait(false);
        logger.Executed(draft.Id, draft.Kind, draft.ExecAttempts, draft.ExecResult);
        return new Response { Ok = true, Draft = draft.ToView() };
    }
}
