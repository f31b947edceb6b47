using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Pipe.Operations;

/// <summary>Validates a draft against its kind's contract, stores it durably, and answers with the receipt.</summary>
internal sealed partial class SubmitOperation(
    DraftStore store, IOptionsMonitor<KindsOptions> kinds, IOptions<AgentPipeOptions> pipe, TimeProvider time, ILogger<SubmitOperation> logger)
    : IPipeOperation
{
    /// <summary>
    /// Agents racing to submit under one id (200 at once were 133 warnings) are one line a minute, as the pipe's other
    /// warnings are: each conflict is still answered in full to the agent that sent it.
    /// </summary>
    private readonly WarningThrottle _conflictWarnings = new(time, TimeSpan.FromMinutes(1));

    public string Name => Ops.Submit;

    public async Task<Response> HandleAsync(JsonElement request, CancellationToken cancellationToken)
    {
        var submission = StrictRequest.Read(request, ProtocolJsonContext.Default.SubmitRequest).Draft;
        NewDraft draft;
        try
        {
            draft = Validate(submission);
        }
        catch (ProtocolException refused) when (refused.Field is "draft.text" or "draft.agent" or "draft.context" or "draft.kind"
            && StoredReceipt(submission) is { } stored)
        {
            // Stored when the rules (or the kind's MaxLength, or the kind itself, since removed from the configuration) still
            // allowed it: the retry of that submit gets the receipt it missed, as principle 4 promises, rather than an error
            // that would read as "not stored". Only a retry: a repeat whose agent or context is neither as stored nor valid
            // is refused as a first submit is, or a malformed agent or context got ok under an id already taken.
            return new Response { Ok = true, Receipt = stored };
        }
        var outcome = await store.SubmitAsync(draft).ConfigureAwait(false);
        if (outcome.Receipt is not { } receipt)
        {
            if (_conflictWarnings.ShouldLog(out var suppressed))
            {
                LogConflict(draft.Id, outcome.ConflictingSha256!, draft.Sha256, suppressed);
            }
            throw new ProtocolException(ErrorCodes.Conflict,
                $"id '{draft.Id}' is already stored with a different text (sha256 {outcome.ConflictingSha256}); nothing changed", "draft.id");
        }
        if (!receipt.Duplicate)
        {
            // After the receipt is on its way: the log sinks run on their own thread, but on 2 cores waking it before
            // the answer was written delayed the answer.
            AfterReply.Defer(() => LogStored(draft.Id, receipt.Seq, draft.Kind, draft.Agent, draft.Sha256));
        }
        return new Response { Ok = true, Receipt = receipt };
    }

    private NewDraft Validate(DraftSubmission d)
    {
        if (!IdPattern().IsMatch(d.Id))
        {
            throw new ProtocolException(ErrorCodes.Invalid, "must be 1-200 characters of [A-Za-z0-9:_-./@]", "draft.id");
        }
        if (!kinds.CurrentValue.Kinds.TryGetValue(d.Kind, out var kind))
        {
            throw new ProtocolException(ErrorCodes.UnknownKind,
                $"kind '{StrictRequest.Shorten(d.Kind)}' is not configured; configured: {string.Join(", ", kinds.CurrentValue.Kinds.Keys.Order(StringComparer.Ordinal))}", "draft.kind");
        }
        CheckAgent(d.Agent);
        if (DraftTextRules.Problem(d.Text, name: false) is { } textProblem)
        {
            throw new ProtocolException(ErrorCodes.Invalid, textProblem, "draft.text");
        }
        var length = CountCodePoints(d.Text);
        if (length > kind.MaxLength)
        {
            throw new ProtocolException(ErrorCodes.Invalid,
                $"is {length.ToString(CultureInfo.InvariantCulture)} characters; kind '{d.Kind}' allows at most {kind.MaxLength.ToString(CultureInfo.InvariantCulture)}", "draft.text");
        }
        return new NewDraft(d.Id, d.Kind, d.Agent, d.Text, DraftHash.Of(d.Text), CheckContext(d.Context));
    }

    private static void CheckAgent(string agent)
    {
        if (string.IsNullOrWhiteSpace(agent))
        {
            throw new ProtocolException(ErrorCodes.Invalid, DraftTextRules.Empty, "draft.agent");
        }
        if (agent.Length > ProtocolJson.MaxAgentLength)
        {
            throw new ProtocolException(ErrorCodes.Invalid, "must be at most 200 characters", "draft.agent");
        }
        if (DraftTextRules.Problem(agent, name: true) is { } agentProblem)
        {
            throw new ProtocolException(ErrorCodes.Invalid, agentProblem, "draft.agent");
        }
    }

    /// <summary>The context to store, as received; null for none.</summary>
    private string? CheckContext(JsonElement? given)
    {
        string? context = null;
        if (given is { } c && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind != JsonValueKind.Object)
            {
                throw new ProtocolException(ErrorCodes.Invalid, "wrong type: expected an object", "draft.context");
            }
            context = c.GetRawText();
            // Stored as received, so checked here: the request's reader takes any JSON for context and leaves its strings
            // unread, and text that is not valid Unicode would make every later read of the draft (get, list, wait, its
            // card) fail. Only an escape can write such text (the line is valid UTF-8), hence the cheap test first.
            if (context.Contains("\\u", StringComparison.Ordinal) && JsonTextCheck.HoldsUnreadableText(c))
            {
                throw new ProtocolException(ErrorCodes.Invalid, StrictRequest.HoldsNotValidUnicode, "draft.context");
            }
            if (System.Text.Encoding.UTF8.GetByteCount(context) > pipe.Value.MaxContextBytes)
            {
                throw new ProtocolException(ErrorCodes.Invalid, $"must be at most {pipe.Value.MaxContextBytes} bytes of JSON", "draft.context");
            }
            // Stored deeper, it made every list and claim answer that held the draft internal (after a claim's leases were committed).
            if (JsonDepth.Of(c) > DraftViews.MaxContextDepth)
            {
                throw new ProtocolException(ErrorCodes.Invalid,
                    $"must nest at most {DraftViews.MaxContextDepth.ToString(CultureInfo.InvariantCulture)} levels of objects and arrays, itself included", "draft.context");
            }
        }
        return context;
    }

    /// <summary>
    /// The duplicate receipt of a draft already stored under this id, of this kind, with this very text, for a retry: its
    /// agent and its context each as stored (the rules may have changed since) or valid now; null if there is none. Only
    /// asked after a refusal of the kind, text, agent or context, which <see cref="Validate"/> reaches once the id has
    /// passed its pattern.
    /// </summary>
    private Receipt? StoredReceipt(DraftSubmission d) =>
        store.Get(d.Id) is { } stored && string.Equals(stored.Kind, d.Kind, StringComparison.Ordinal)
            && string.Equals(stored.Sha256, DraftHash.Of(d.Text), StringComparison.Ordinal)
            && (string.Equals(stored.Agent, d.Agent, StringComparison.Ordinal) || Passes(() => CheckAgent(d.Agent)))
            && (string.Equals(stored.ContextJson, d.Context is { ValueKind: not JsonValueKind.Null } c ? c.GetRawText() : null, StringComparison.Ordinal)
                || Passes(() => CheckContext(d.Context)))
            ? new Receipt(stored.Id, stored.Seq, stored.Sha256, States.Pending, Duplicate: true)
            : null;

    private static bool Passes(Action check)
    {
        try
        {
            check();
            return true;
        }
        catch (ProtocolException)
        {
            return false;
        }
    }

    private static int CountCodePoints(string text)
    {
        var count = 0;
        foreach (var _ in text.EnumerateRunes())
        {
            count++;
        }
        return count;
    }

    [GeneratedRegex(ProtocolJson.IdPatternDotNet)]
    private static partial Regex IdPattern();

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored {DraftId} seq {Seq} kind {Kind} from {Agent} sha256 {Sha256}")]
    private partial void LogStored(string draftId, long seq, string kind, string agent, string sha256);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SubmitConflict", Message =
        "Refused {DraftId}: already stored with sha256 {StoredSha256}, resubmitted with {OfferedSha256}. {Suppressed} more since the last such warning")]
    private partial void LogConflict(string draftId, string storedSha256, string offeredSha256, int suppressed);
}
