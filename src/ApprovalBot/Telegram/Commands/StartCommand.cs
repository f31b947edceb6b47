using System.Globalization;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

/// <summary>Tells anyone, in any chat the bot is in, the two ids set-up needs (this chat's and theirs); reveals nothing about drafts.</summary>
internal sealed class StartCommand : ITelegramCommand
{
    public string Name => "start";

    public string Description => "Show this chat's id and your user id";

    public bool AllowAnyone => true;

    public Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken)
    {
        var reply = new HtmlText()
            .Line("👋 ApprovalBot")
            .Text("Chat id: ").Code(context.ChatId.ToString(CultureInfo.InvariantCulture)).Line()
            .Text("Your user id: ").Code(context.From.Id.ToString(CultureInfo.InvariantCulture)).Line().Line();
        reply.Text(context.IsApprover
            ? "You are an approver. /help lists the commands."
            : "To receive cards here set ApprovalBot:Telegram:ChatId to this chat id; to let this user decide, add the user id to ApprovalBot:Telegram:Approvers.");
        return Task.FromResult(reply.ToString());
    }
}
