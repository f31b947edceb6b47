using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Sandbox.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ApprovalBot.Sandbox.Http;

/// <summary>The control surface over HTTP under /sandbox/, for the human page and for harnesses outside the process.</summary>
internal sealed class ControlEndpoints(SandboxControl control, SandboxState state)
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    public void Map(IEndpointRouteBuilder app)
    {
        Get(app, "/sandbox", Info);
        Get(app, "/sandbox/chats", Chats);
        Get(app, "/sandbox/chats/{chatId}/messages", Messages);
        Get(app, "/sandbox/chats/{chatId}/transcript", TranscriptAsync);
        Post(app, "/sandbox/chats/{chatId}/migrate", MigrateAsync);
        Post(app, "/sandbox/chats/{chatId}/remove-bot", c => ControlJson.WriteAsync(c, new { refused = control.RemoveBotFromChat(RouteLong(c, "chatId")) }));
        Post(app, "/sandbox/chats/{chatId}/add-bot", c => ControlJson.WriteAsync(c, new { was_removed = control.AddBotToChat(RouteLong(c, "chatId")) }));
        app.MapDelete("/sandbox/chats/{chatId}/messages/{messageId}", Guarded(c =>
        {
            control.DeleteMessage(RouteLong(c, "chatId"), checked((int)RouteLong(c, "messageId")));
            return ControlJson.WriteAsync(c, new { deleted = true });
        }));
        Post(app, "/sandbox/press", PressAsync);
        Post(app, "/sandbox/send", SendAsync);
        Get(app, "/sandbox/updates", Updates);
        Post(app, "/sandbox/updates", EnqueueRawAsync);
        Post(app, "/sandbox/updates/{updateId}/wait-confirmed", WaitConfirmedAsync);
        Get(app, "/sandbox/callback-answers", c => ControlJson.WriteAsync(c, control.GetCallbackAnswers()));
        Get(app, "/sandbox/callback-answers/{queryId}", CallbackAnswerAsync);
        Get(app, "/sandbox/calls", c => ControlJson.WriteAsync(c, control.GetCalls(c.Request.Query["method"].FirstOrDefault())));
        Get(app, "/sandbox/commands", c => ControlJson.WriteAsync(c, control.GetCommands()));
        Get(app, "/sandbox/files/{fileId}", File);
        Post(app, "/sandbox/faults", AddFaultAsync);
        Post(app, "/sandbox/callback-answers/expire", c => ControlJson.WriteAsync(c, new { expired = control.ExpireCallbackQueries() }));
        Post(app, "/sandbox/token/revoke", c => ControlJson.WriteAsync(c, new { token = control.RevokeToken() }));
        app.MapDelete("/sandbox/faults", Guarded(c =>
        {
            control.ClearFaults();
            return ControlJson.WriteAsync(c, new { cleared = true });
        }));
        app.MapPut("/sandbox/rate-limits", Guarded(async c =>
        {
            control.RateLimitsEnabled = (await ControlJson.ReadAsync<RateLimitRequest>(c).ConfigureAwait(false)).Enabled;
            await ControlJson.WriteAsync(c, new { enabled = control.RateLimitsEnabled }).ConfigureAwait(false);
        }));
    }

    private static void Get(IEndpointRouteBuilder app, string pattern, RequestDelegate handler) => app.MapGet(pattern, Guarded(handler));

    private static void Post(IEndpointRouteBuilder app, string pattern, RequestDelegate handler) => app.MapPost(pattern, Guarded(handler));

    /// <summary>Misuse of the control surface is the caller's mistake: say so with 400 (or 408 for a wait), never 500.</summary>
    private static RequestDelegate Guarded(RequestDelegate handler) => async context =>
    {
        try
        {
            await handler(context).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or OverflowException)
        {
            // An ArgumentException's Message ends in .NET's " (Parameter 'chatId')", a name the caller never sent.
            await ControlJson.WriteErrorAsync(context, 400, e is ArgumentException { ParamName: { } name } argument
                ? argument.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            await ControlJson.WriteErrorAsync(context, 408, e.Message).ConfigureAwait(false);
        }
    };

    private Task Info(HttpContext context) => ControlJson.WriteAsync(context, new
    {
        bot = new { id = control.BotId, username = control.BotUsername },
        private_chat_id = control.PrivateChatId,
        approver_id = control.ApproverId,
        stranger_id = control.StrangerId,
        group_chat_id = control.GroupChatId,
        rate_limits = control.RateLimitsEnabled,
        spec_version = Spec.BotApiSpec.Instance.Version,
    });

    private Task Chats(HttpContext context) => ControlJson.WriteAsync(context, state.Gate.Read(() =>
        state.Chats.Values.Select(c => new { id = c.Id, type = c.Type, title = c.Title ?? c.Peer?.FirstName, migrated_to = c.MigratedTo, bot_refused = c.BotRefused }).ToArray()));

    /// <summary>A chat the sandbox does not have is refused as every other endpoint refuses it, not shown as empty.</summary>
    private Task Messages(HttpContext context)
    {
        var chatId = RouteLong(context, "chatId");
        state.Gate.Read(() => state.ChatOrThrow(chatId));
        return ControlJson.WriteAsync(context, control.GetMessages(chatId));
    }

    /// <summary>Long-polls for changes newer than after_version, so the page updates at once without a timer loop.</summary>
    private async Task TranscriptAsync(HttpContext context)
    {
        var chatId = RouteLong(context, "chatId");
        var after = QueryLong(context, "after_version") ?? -1;
        var wait = TimeSpan.FromMilliseconds(Math.Clamp(QueryLong(context, "wait_ms") ?? 0, 0, 60_000));
        var view = await state.Gate.WaitAsync(
            () => state.Gate.Version > after ? TranscriptView.From(state.Gate.Version, state.ChatOrThrow(chatId)) : null,
            wait,
            context.RequestAborted).ConfigureAwait(false);
        view ??= state.Gate.Read(() => TranscriptView.From(state.Gate.Version, state.ChatOrThrow(chatId)));
        await ControlJson.WriteAsync(context, view).ConfigureAwait(false);
    }

    private async Task MigrateAsync(HttpContext context)
    {
        var request = await ControlJson.ReadAsync<MigrateRequest>(context).ConfigureAwait(false);
        var updates = control.MigrateChat(RouteLong(context, "chatId"), request.ToChatId, request.Notify);
        await ControlJson.WriteAsync(context, new { migrated = true, update_ids = updates }).ConfigureAwait(false);
    }

    private async Task PressAsync(HttpContext context)
    {
        var r = await ControlJson.ReadAsync<PressRequest>(context).ConfigureAwait(false);
        await ControlJson.WriteAsync(context, control.PressButton(r.MessageId, r.CallbackData, r.FromUserId, r.ChatId, r.RequireButton, r.Inaccessible)).ConfigureAwait(false);
    }

    private async Task SendAsync(HttpContext context)
    {
        var r = await ControlJson.ReadAsync<SendRequest>(context).ConfigureAwait(false);
        await ControlJson.WriteAsync(context, control.SendUserMessage(r.Text, r.FromUserId, r.ChatId)).ConfigureAwait(false);
    }

    private Task Updates(HttpContext context) => ControlJson.WriteAsync(context, state.Gate.Read(() => new
    {
        pending_count = state.Updates.PendingCount,
        confirmed_offset = state.Updates.ConfirmedOffset,
        highest_delivered = state.Updates.HighestDelivered,
        polling = state.Updates.ActivePoll is not null,
        allowed_updates = state.Updates.AllowedUpdates,
    }));

    private async Task EnqueueRawAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var json = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        var assign = context.Request.Query["assign_update_id"].FirstOrDefault() is not "false";
        await ControlJson.WriteAsync(context, new { update_id = control.EnqueueRawUpdate(json, assign) }).ConfigureAwait(false);
    }

    private async Task WaitConfirmedAsync(HttpContext context)
    {
        var updateId = RouteLong(context, "updateId");
        await control.WaitForUpdateConfirmedAsync(updateId, WaitTime(context), context.RequestAborted).ConfigureAwait(false);
        await ControlJson.WriteAsync(context, new { confirmed = true }).ConfigureAwait(false);
    }

    private async Task CallbackAnswerAsync(HttpContext context)
    {
        var queryId = (string)context.Request.RouteValues["queryId"]!;
        var answer = QueryLong(context, "wait_ms") is not null
            ? await control.WaitForCallbackAnswerAsync(queryId, WaitTime(context), context.RequestAborted).ConfigureAwait(false)
            : control.GetCallbackAnswer(queryId);
        await (answer is null
            ? ControlJson.WriteErrorAsync(context, 404, $"No answer to callback query {queryId} yet.")
            : ControlJson.WriteAsync(context, answer)).ConfigureAwait(false);
    }

    private async Task AddFaultAsync(HttpContext context)
    {
        var request = await ControlJson.ReadAsync<FaultRequest>(context).ConfigureAwait(false);
        control.InjectFault(request.Method, request.ToFault(), request.Times);
        await ControlJson.WriteAsync(context, new { queued = request.Times }).ConfigureAwait(false);
    }

    private Task File(HttpContext context)
    {
        var fileId = (string)context.Request.RouteValues["fileId"]!;
        var document = state.Gate.Read(() => state.Files.GetValueOrDefault(fileId));
        return document is null
            ? ControlJson.WriteErrorAsync(context, 404, "No such file.")
            : Results.File(document.Content, document.MimeType ?? "application/octet-stream", document.FileName).ExecuteAsync(context);
    }

    private static TimeSpan WaitTime(HttpContext context) =>
        QueryLong(context, "wait_ms") is { } ms ? TimeSpan.FromMilliseconds(Math.Clamp(ms, 0, 300_000)) : DefaultWait;

    private static long RouteLong(HttpContext context, string name) =>
        long.Parse((string)context.Request.RouteValues[name]!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static long? QueryLong(HttpContext context, string name) =>
        context.Request.Query[name].FirstOrDefault() is { } text
            ? long.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
            : null;
}
