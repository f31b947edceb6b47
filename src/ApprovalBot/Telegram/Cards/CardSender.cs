using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Api;

namespace ApprovalBot.Telegram.Cards;

/// <summary>Puts a card in the chat and edits it later. The only place that turns a <see cref="RenderedCard"/> into Bot API calls.</summary>
internal sealed class CardSender(TelegramBotClient client, TelegramChat chat, DraftStore store)
{
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
        return chat.SendAsync(async chatId =>
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
        }, cancellationToken);
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
            if (store.Get(draftId) is { } draft)
            {
                await EditAsync(draft, chatId, messageId, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            lane.Release();
        }
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
}

internal sealed record SentCard(long ChatId, long MessageId, long? DocumentMessageId);
