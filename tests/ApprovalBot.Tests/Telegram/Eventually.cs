namespace ApprovalBot.Tests.Telegram;

/// <summary>
/// For facts that raise no signal (a store write that moves no state, such as a recorded card failure):
/// re-checks until true or the timeout. Use a sandbox or store signal wherever one exists.
/// </summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TelegramHarness.Wait);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for " + what);
            }
            await Task.Delay(20);
        }
    }
}
