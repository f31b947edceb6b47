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
        // An approver elsewhere (a private chat with the bot while cards go to a group) is refused every other command here.
        reply.Text(!context.IsApprover
            ? "To receive cards here set ApprovalBot:Telegram:ChatId to this chat id; to let this user decide, add the user id to ApprovalBot:Telegram:Approvers."
            : context.ApproversChatId is { } approvers && approvers != context.ChatId
                ? $"You are an approver, but commands and buttons work only in the approvers' chat {approvers.ToString(CultureInfo.InvariantCulture)}; " +
                    "to receive cards here instead, set ApprovalBot:Telegram:ChatId to this chat id."
                : "You are an approver. /help lists the commands.");
        return Task.FromResult(reply.ToString());
    }
}
