using System.Globalization;
using ApprovalBot.Telegram.Cards;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// <see cref="CardSender.ShowLatestAsync"/> of the card on record for a follow-up (unlessShown), whose record is read in the
/// card's lane: a card found behind before the wait for that lane (the look at the cards behind while the decision handler's
/// edit was under way) gets no second, identical edit, while a record that lags behind the card is still caught up.
/// </summary>
public sealed class CardSenderTests
{
    [Fact]
    public async Task ShowLatest_UnlessShownOfACardRecordedAsShowingTheDraftsState_SendsNoEdit()
    {
        const string id = "reply:shown-already";
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync(id, "text");
        await Eventually.TrueAsync(() => h.Host.Store.Get(id)!.CardShowsCurrentState, "the card recorded as shown");
        var before = h.Control.GetCalls().Max(c => c.Sequence);

        var edited = await h.Host.Services.GetRequiredService<CardSender>().ShowLatestAsync(id, h.ChatId, card.MessageId, CancellationToken.None, unlessShown: true);

        Assert.False(edited);
        Assert.DoesNotContain(h.Control.GetCalls("editMessageText"), c => c.Sequence > before);
    }

    [Fact]
    public async Task ShowLatest_UnlessShownOfACardWhoseRecordLags_EditsItAndRecordsTheStateShown()
    {
        const string id = "reply:record-lags";
        await using var h = await TelegramHarness.StartAsync();
        var card = await h.SubmitCardedAsync(id, "text");
        // As a store that could not take the record leaves it: the card is right, the record behind.
        h.ExecuteOnDatabase($"UPDATE drafts SET card_shown_state = 'pending' WHERE id = '{id}'");
        var before = h.Control.GetCalls().Max(c => c.Sequence);

        var edited = await h.Host.Services.GetRequiredService<CardSender>().ShowLatestAsync(id, h.ChatId, card.MessageId, CancellationToken.None, unlessShown: true);

        Assert.True(edited);
        var edit = Assert.Single(h.Control.GetCalls("editMessageText"), c => c.Sequence > before);
        Assert.Equal(card.MessageId, int.Parse(edit.Parameters["message_id"], CultureInfo.InvariantCulture));
        Assert.True(h.Host.Store.Get(id)!.CardShowsCurrentState);
    }
}
