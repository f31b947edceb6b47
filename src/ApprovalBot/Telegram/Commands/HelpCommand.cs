using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

internal sealed class HelpCommand : ITelegramCommand
{
    public string Name => "help";

    public string Description => "List the commands";

    public Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken)
    {
        var reply = new HtmlText().Bold("Commands").Line();
        foreach (var command in context.Commands)
        {
            reply.Text("/" + command.Name + " — " + command.Description).Line();
        }
        return Task.FromResult(reply.Line().Text("Cards come with ✅ Approve / ❌ Reject buttons; only approvers can use them. A card gone from the chat? /card <id> sends it again.").ToString());
    }
}
