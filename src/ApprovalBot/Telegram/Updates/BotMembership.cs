using System.Globalization;
using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Updates;

/// <summary>
/// my_chat_member: Telegram saying the bot's own status in a chat changed. In the approvers' chat, a status that lets
/// the bot post (a member, an administrator; restricted but still allowed to send messages), after one that did not,
/// lets the cards, edits and escalations waiting on the chat's refusal go at once (<see cref="ChatReadmission"/>), logged at
/// Information; one that does not (left, kicked, restricted) is logged at Warning once until the bot is let back in. Neither decides whether a card is
/// sent: the answer to the send does (the refusal handling of the outbox). An update about another member than the bot
/// (none Telegram would send) or about another chat (the bot added to some group, a stranger blocking it) changes nothing
/// and is recorded as a <c>security</c> event, once per update, like a refused tap or command; a malformed one (a part
/// missing, a status the Bot API does not have) is skipped like any malformed update. Each is confirmed by the offset.
/// </summary>
internal sealed partial class BotMembership(TelegramChat chat, DraftStore store, ChatReadmission readmission, ILogger<BotMembership> logger)
{
    public const string NotTheBotReason = "membership_not_the_bot";
    public const string OtherChatReason = "membership_other_chat";

    // 1 once the bot's removal from the approvers' chat was logged; back to 0 when it is let back in.
    private int _shutOutLogged;

    public async Task HandleAsync(long updateId, ChatMemberUpdated change)
    {
        if (Malformed(change) is { } why)
        {
            LogMalformed(updateId, why);
            return;
        }
        var (where, now) = (change.Chat!, change.NewChatMember!);
        var mayPost = MayPost(now, where)!.Value;
        var member = now.User!;
        if (member.Id != chat.BotId || !member.IsBot || change.OldChatMember!.User!.Id != member.Id)
        {
            await RefuseAsync(change, NotTheBotReason).ConfigureAwait(false);
            return;
        }
        if (where.Id != chat.ChatId)
        {
            if (chat.IsApproversChat(where.Id))
            {
                // A group the approvers' chat was upgraded from: the bot no longer posts there.
                LogFormerChat(where.Id, now.Status!);
                return;
            }
            await RefuseAsync(change, OtherChatReason).ConfigureAwait(false);
            return;
        }
        var by = change.From;
        if (mayPost)
        {
            // Only a way back in: a promotion, or rights edited while the bot could post all along, frees nothing.
            var wasShutOut = Interlocked.Exchange(ref _shutOutLogged, 0) == 1;
            if (wasShutOut || MayPost(change.OldChatMember!, where) != true)
            {
                LogLetBackIn(where.Id, now.Status!, by?.Id, by is null ? "" : RecordedText.Name(by));
                readmission.Announce();
            }
            else
            {
                LogStillMayPost(where.Id, now.Status!);
            }
        }
        else if (Interlocked.Exchange(ref _shutOutLogged, 1) == 0)
        {
            LogShutOut(where.Id, now.Status!, by?.Id, by is null ? "" : RecordedText.Name(by));
        }
    }

    /// <summary>What is missing or unknown in <paramref name="change"/>, or null when it says whose status changed, where, and to what.</summary>
    private static string? Malformed(ChatMemberUpdated change) => change switch
    {
        { Chat: null } => "my_chat_member without a chat",
        { NewChatMember: null } or { NewChatMember.User: null } => "my_chat_member without new_chat_member and its user",
        { OldChatMember: null } or { OldChatMember.User: null } => "my_chat_member without old_chat_member and its user",
        _ when MayPost(change.NewChatMember, change.Chat) is null => "my_chat_member with an unknown status: " + RecordedText.Shorten(change.NewChatMember.Status ?? "(none)"),
        _ => null,
    };

    /// <summary>Whether the bot may post in <paramref name="where"/> as <paramref name="member"/>; null for a status the Bot API does not have.</summary>
    private static bool? MayPost(ChatMember member, Chat where) => member.Status switch
    {
        "creator" => true,
        // In a channel only an administrator with the right to post may; in a group every member may, unless restricted.
        "administrator" => where.Type != "channel" || member.CanPostMessages == true,
        "member" => where.Type != "channel",
        "restricted" => member.IsMember == true && member.CanSendMessages == true,
        "left" or "kicked" => false,
        _ => null,
    };

    /// <summary>The security event, once per update: a redelivery (same chat, member, time and status) adds nothing.</summary>
    private async Task RefuseAsync(ChatMemberUpdated change, string reason)
    {
        var (where, member) = (change.Chat!, change.NewChatMember!);
        var details = new JsonObject { ["reason"] = reason, ["chat_id"] = where.Id }.Put("chat_type", where.Type);
        details["user_id"] = change.From?.Id;
        if (change.From is { } from)
        {
            details.PutUser(from);
        }
        details["member_user_id"] = member.User!.Id;
        details["old_status"] = change.OldChatMember!.Status is { } old ? RecordedText.Shorten(old) : null;
        details["new_status"] = member.Status;
        details["date"] = change.Date;
        var actor = "telegram:" + (change.From?.Id ?? 0).ToString(CultureInfo.InvariantCulture);
        var recorded = await store.WriteAsync(ctx => RefusalRecords.AppendOnce(ctx, null, CallbackRouter.SecurityEvent, actor, details.ToJsonString(),
            ("$.reason", reason), ("$.chat_id", where.Id), ("$.member_user_id", member.User.Id), ("$.new_status", member.Status!), ("$.date", change.Date)))
            .ConfigureAwait(false);
        if (recorded)
        {
            LogRefused(where.Id, member.User.Id, member.Status!, change.From?.Id, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, EventName = "BotLetBackIntoChat",
        Message = "Telegram says the bot may post in chat {ChatId} again (now {Status}, changed by user {UserId} {UserName}); the cards, edits and escalations waiting for it go out now")]
    private partial void LogLetBackIn(long chatId, string status, long? userId, string userName);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "BotShutOutOfChat",
        Message = "Telegram says the bot may no longer post in chat {ChatId} (now {Status}, changed by user {UserId} {UserName}). Cards and edits wait " +
        "until it is let back in: unblock the bot, or add it back to the group with the right to post")]
    private partial void LogShutOut(long chatId, string status, long? userId, string userName);

    [LoggerMessage(Level = LogLevel.Warning, EventName = "SecurityMembershipRefused",
        Message = "Security: ignored a my_chat_member update about user {MemberUserId} (now {Status}) in chat {ChatId}, made by user {UserId}: {Reason}")]
    private partial void LogRefused(long chatId, long memberUserId, string status, long? userId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The bot's status in chat {ChatId} is now {Status}; it could post before and still may")]
    private partial void LogStillMayPost(long chatId, string status);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The bot's status in chat {ChatId}, a group the approvers' chat was upgraded from, is now {Status}; nothing to do")]
    private partial void LogFormerChat(long chatId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped malformed update {UpdateId}: {Reason}")]
    private partial void LogMalformed(long updateId, string reason);
}
