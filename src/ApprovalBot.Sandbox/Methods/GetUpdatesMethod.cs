using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.Spec;
using ApprovalBot.Sandbox.State;
using ApprovalBot.Sandbox.Validation;

namespace ApprovalBot.Sandbox.Methods;

/// <summary>
/// Long polling as Telegram does it: offset confirms, the wait ends the moment an update arrives
/// (the state change signal, not a sleep loop), and a newer getUpdates terminates a pending one with 409.
/// </summary>
internal sealed class GetUpdatesMethod(SandboxState state, BotApiSpec spec) : IBotMethod
{
    /// <summary>The longest long poll the sandbox holds open, so a stuck client cannot pin a request forever.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(50);

    private const int MaxLimit = 100;

    private readonly HashSet<string> _updateTypes = spec.FindType("Update")!.Fields
        .Select(f => f.Name)
        .Where(n => n != "update_id")
        .ToHashSet(StringComparer.Ordinal);

    public string Name => "getUpdates";

    public async Task<JsonNode> InvokeAsync(ValidatedCall call, CancellationToken ct)
    {
        var limit = call.Long("limit") ?? MaxLimit;
        if (limit is < 1 or > MaxLimit)
        {
            throw BotApiException.BadRequest("limit must be between 1 and 100");
        }

        var allowed = AllowedUpdates(call);
        var timeout = TimeSpan.FromSeconds(Math.Clamp(call.Long("timeout") ?? 0, 0, (long)MaxTimeout.TotalSeconds));
        var offset = call.Long("offset");
        var ticket = new PollTicket();
        var displaced = state.Gate.Write(() =>
        {
            if (offset is { } o)
            {
                state.Updates.Confirm(o);
            }

            if (allowed is not null)
            {
                state.Updates.SetAllowedUpdates(allowed);
            }

            state.Updates.LastPollTimeout = timeout;
            return state.Updates.BeginPoll(ticket);
        });
        displaced?.Terminate();

        try
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct, ticket.Terminated);
            var updates = await state.Gate
                .WaitAsync(() => state.Updates.Peek((int)limit) is { Count: > 0 } ready ? ready : null, timeout, wait.Token)
                .ConfigureAwait(false) ?? [];
            state.Gate.Write(() => state.Updates.MarkDelivered(updates));
            return new JsonArray(updates.Select(u => u.Json.DeepClone()).ToArray());
        }
        catch (OperationCanceledException) when (ticket.Conflicted && !ct.IsCancellationRequested)
        {
            throw new BotApiException(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
        }
        finally
        {
            state.Gate.Write(() => state.Updates.EndPoll(ticket));
        }
    }

    private string[]? AllowedUpdates(ValidatedCall call)
    {
        if (call.Node("allowed_updates") is not JsonArray array)
        {
            return null;
        }

        var types = array.Select(t => (string)t!).ToArray();
        var unknown = types.FirstOrDefault(t => !_updateTypes.Contains(t));
        return unknown is null ? types : throw BotApiException.BadRequest($"unknown update type \"{unknown}\" in allowed_updates");
    }
}
