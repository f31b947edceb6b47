using System.Text.Json.Nodes;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Telegram.Cards;

/// <summary>Puts a card in the chat and edits it later. The only place that turns a <see cref="RenderedCard"/> into Bot API calls.</summary>
internal sealed partial class CardSender(TelegramBotClient client, TelegramChat chat, DraftStore store, ILogger<CardSender> logger)
{
    public const string MovedEvent = "card_moved";
    private const string Actor = "telegram";
    private static readonly LinkPreviewOptions NoPreview = new(IsDisabled: true);
    private const int EditLanes = 64;

    // One lane per card (striped): edits of the same card go one at a time, while a card waiting out a 429 does not
    // hold up the edits of other cards, nor the poller that edits them after a tap.
    private readonly SemaphoreSlim[] _edits = [.. Enumerable.Range(0, EditLanes).Select(_ => new SemaphoreSlim(1, 1))];

    /// <summary>
    /// Sends the card. A long text's file goes first, so by the time the buttons appear the approver can
    /// already read everything they would approve.
    /// </summary>
    public Task<SentCard> SendAsync(Draft draft, CancellationToken cancellationToken)
    {
        var card = CardRenderer.Render(draft);
        return chat.SendAsync(chatId => SendToAsync(card, chatId, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Shows the draft's latest stored state on a card already in the chat; an identical edit counts as done.
    /// Edits of one card go one at a time and each renders the state read just before it is sent: the decision handler,
    /// the follow-ups and the outbox all edit the same card, and an edit rendered from an older snapshot must
    /// never land after, and overwrite, a newer outcome. So whichever edit lands last shows the last change.
    /// </summary>
    public async Task ShowLatestAsync(string draftId, long chatId, long messageId, CancellationToken cancellationToken)
    {
        var lane = _edits[(int)((uint)HashCode.Combine(chatId, messageId) % EditLanes)];
        await lane.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (store.Get(draftId) is not { } draft)
            {
                return;
            }
            try
            {
                await EditAsync(draft, chatId, messageId, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.MigrateToChatId is { } newChatId && newChatId != chatId)
            {
                await chat.FollowMigrationAsync(chatId, newChatId).ConfigureAwait(false);
                await ShowInSupergroupAsync(draftId, chatId, messageId, newChatId, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            lane.Release();
        }
    }

    /// <summary>
    /// The group the card is in became a supergroup. Its messages stay behind in the old group, which takes no more
    /// edits (every call to it answers migrate_to_chat_id), and the supergroup holds no copy to edit. So the draft's
    /// card is sent again, as the draft stands now, into the supergroup and recorded as its card there: later edits
    /// go to it, and a card still awaiting a decision can be tapped again. Another copy (a card sent twice) stays behind.
    /// </summary>
    private async Task ShowInSupergroupAsync(string draftId, long oldChatId, long oldMessageId, long newChatId, CancellationToken cancellationToken)
    {
        if (store.Get(draftId) is not { } draft)
        {
            return;
        }
        if (draft.CardChatId is not { } cardChat || draft.CardMessageId is not { } cardMessage)
        {
            return;
        }
        if ((cardChat, cardMessage) != (oldChatId, oldMessageId))
        {
            // Already moved (by an edit that got here first): show the latest state on the card where it is now.
            if (cardChat == newChatId)
            {
                await EditAsync(draft, cardChat, cardMessage, cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        var sent = await SendToAsync(CardRenderer.Render(draft), newChatId, cancellationToken).ConfigureAwait(false);
        var moved = await store.WriteAsync(ctx => RecordMove(ctx, draftId, oldChatId, oldMessageId, sent)).ConfigureAwait(false);
        LogCardMoved(draftId, oldChatId, oldMessageId, sent.ChatId, sent.MessageId, moved);
    }

    private static bool RecordMove(WriteContext ctx, string draftId, long oldChatId, long oldMessageId, SentCard sent)
    {
        // Only the card on record moves (compare-and-set: an edit of another copy, or one that lost a race, records nothing).
        var recorded = ctx.Execute(
            "UPDATE drafts SET card_chat_id = $chat, card_message_id = $message, updated_at = $now " +
            "WHERE id = $id AND card_chat_id = $oldChat AND card_message_id = $oldMessage",
            ("$chat", sent.ChatId), ("$message", sent.MessageId), ("$now", ctx.NowMs), ("$id", draftId), ("$oldChat", oldChatId), ("$oldMessage", oldMessageId)) == 1;
        if (recorded)
        {
            var details = new JsonObject
            {
                ["reason"] = "chat_migrated",
                ["from_chat_id"] = oldChatId,
                ["from_message_id"] = oldMessageId,
                ["chat_id"] = sent.ChatId,
                ["message_id"] = sent.MessageId,
                ["document_message_id"] = sent.DocumentMessageId,
            };
            ctx.AppendEvent(draftId, MovedEvent, Actor, details.ToJsonString());
        }
        return recorded;
    }

    private async Task<SentCard> SendToAsync(RenderedCard card, long chatId, CancellationToken cancellationToken)
    {
        long? documentId = null;
        if (card.Attachment is { } file)
        {
            var document = await client.SendDocument(new SendDocumentRequest
            {
                ChatId = chatId,
                FileName = file.FileName,
                Content = file.Content,
                Caption = file.Caption,
            }, cancellationToken).ConfigureAwait(false);
            documentId = document.MessageId;
        }
        var message = await client.SendMessage(new SendMessageRequest
        {
            ChatId = chatId,
            Text = card.Html,
            ParseMode = ParseMode.Html,
            ReplyMarkup = card.Buttons,
            LinkPreviewOptions = NoPreview,
        }, cancellationToken).ConfigureAwait(false);
        return new SentCard(message.Chat.Id, message.MessageId, documentId);
    }

    private Task EditAsync(Draft draft, long chatId, long messageId, CancellationToken cancellationToken)
    {
        var card = CardRenderer.Render(draft);
        return client.EditMessageText(new EditMessageTextRequest
        {
            ChatId = chatId,
            MessageId = messageId,
            Text = card.Html,
            ParseMode = ParseMode.Html,
            ReplyMarkup = card.Buttons,
            LinkPreviewOptions = NoPreview,
        }, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Card of {DraftId} (message {OldMessageId} in chat {OldChatId}) is in a group upgraded to a supergroup and can no longer be edited; " +
        "sent it again as message {MessageId} in chat {ChatId} (recorded as the draft's card: {Recorded})")]
    private partial void LogCardMoved(string draftId, long oldChatId, long oldMessageId, long chatId, long messageId, bool recorded);
}

internal sealed record SentCard(long ChatId, long MessageId, long? DocumentMessageId);
