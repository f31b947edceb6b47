using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;
using ApprovalBot.Pipe.Operations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Execution.Pull;

/// <summary><c>complete</c>: the pull executor posted the draft; only the current, unexpired lease may say so.</summary>
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
        PullRoute.RequireText(complete.Result, "result", required: false, AttemptOutcome.MaxResultChars);
        var outcome = AttemptOutcome.Success(complete.Result);
        var finish = await store.WriteAsync(ctx =>
        {
            var d = ctx.ReadDraft(complete.Id);
            return d is null
                ? null
                : ExecutionLedger.Finish(ctx, complete.Id, complete.Lease, requireUnexpired: true, outcome,
                    PullRoute.RouteOrDefault(routes.Value, d.Kind), options.Value, "pull:" + d.Kind);
        }, cancellationToken).ConfigureAwait(false);
        if (finish is null) throw GetOperation.NotFound(complete.Id);
        if (finish.LeaseLost) throw PullRoute.LeaseLost(complete.Id);
        var draft = finish.Draft!;
        logger.Executed(draft.Id, draft.Kind, draft.ExecAttempts, draft.ExecResult);
        return new Response { Ok = true, Draft = draft.ToView() };
    }
}
