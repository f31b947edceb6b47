using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Updates;

namespace ApprovalBot.Tests.Telegram;

public sealed class UpdatePollerTests
{
    [Fact]
    public async Task Poll_MalformedAndUnknownUpdates_SkippedPollerKeepsWorking()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:after-junk", "text");
        var card = await h.WaitForCardAsync("reply:after-junk");

        var junk = h.Control.EnqueueRawUpdate("""{"update_id":0,"callback_query":{"id":42,"from":"nobody"}}""");
        var unknown = h.Control.EnqueueRawUpdate("""{"update_id":0,"poll":{"id":"p"}}""");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForCallbackAnswerAsync(press.QueryId, TelegramHarness.Wait);
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);

        Assert.True(junk < press.UpdateId && unknown < press.UpdateId);
        Assert.Equal(DraftState.Approved, h.Host.Store.Get("reply:after-junk")!.State);
    }

    [Fact]
    public async Task Poll_OffsetStoredAfterEffects_RestartDoesNotRedeliver()
    {
        await using var h = await TelegramHarness.StartAsync();
        await h.SubmitAsync("reply:offset", "text");
        var card = await h.WaitForCardAsync("reply:offset");
        var press = h.Control.PressButton(card.MessageId, TelegramHarness.ButtonData(card, "Approve"));
        await h.Control.WaitForUpdateConfirmedAsync(press.UpdateId, TelegramHarness.Wait);
        await Eventually.TrueAsync(() => h.Host.Store.GetSetting(UpdatePoller.OffsetSetting) == (press.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "the stored offset");

        await h.RestartHostAsync();
        await h.Control.WaitForPollingAsync(TelegramHarness.Wait);

        var polls = h.Control.GetCalls("getUpdates");
        Assert.Equal((press.UpdateId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), polls[^1].Parameters["offset"]);
    }
}
