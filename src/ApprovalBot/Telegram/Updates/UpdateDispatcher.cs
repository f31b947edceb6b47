using ApprovalBot.Telegram.Api;
using ApprovalBot.Telegram.Commands;

namespace ApprovalBot.Telegram.Updates;

/// <summary>Sends each update to what handles it: button presses to the callback gate, slash commands to the router. Anything else is ignored.</summary>
internal sealed class UpdateDispatcher(CallbackRouter callbacks, CommandRouter commands)
{
    public static readonly IReadOnlyList<string> AllowedUpdates = ["message", "callback_query"];

    public Task HandleAsync(Update update, CancellationToken cancellationToken)
    {
        if (update.CallbackQuery is { } query)
        {
            return callbacks.HandleAsync(query, cancellationToken);
        }
        if (update.Message is { Text: { } text } message && text.StartsWith('/'))
        {
            return commands.HandleAsync(message, cancellationToken);
        }
        return Task.CompletedTask;
    }
}
