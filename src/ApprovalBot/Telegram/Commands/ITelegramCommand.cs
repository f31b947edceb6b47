using ApprovalBot.Telegram.Api;

namespace ApprovalBot.Telegram.Commands;

/// <summary>
/// A slash command. Register one with <see cref="TelegramExtensions.AddTelegramCommand{T}"/>: the router,
/// /help and the bot's command menu (setMyCommands) pick it up without edits elsewhere.
/// </summary>
internal interface ITelegramCommand
{
    /// <summary>Lowercase, without the slash, e.g. <c>pending</c>.</summary>
    string Name { get; }

    /// <summary>One line for /help and the command menu.</summary>
    string Description { get; }

    /// <summary>
    /// Whether anyone may run it, in any chat the bot receives it in (only /start, which helps set-up: it must work in
    /// the group that is to become <c>ChatId</c> before that is configured, and it tells nothing about drafts).
    /// Otherwise only approvers, in the approvers' chat.
    /// </summary>
    bool AllowAnyone => false;

    /// <summary>
    /// Where the whole reply can be read when Telegram refuses it as too long for one message, as Telegram HTML that names
    /// an <c>approvalctl</c> command that exists, e.g. <c>&lt;code&gt;approvalctl orphans&lt;/code&gt; lists them</c>; null: none.
    /// </summary>
    string? FullReplyHint => null;

    /// <summary>Returns the reply as Telegram HTML (escape every piece of data with <see cref="Cards.HtmlText"/>).</summary>
    Task<string> ExecuteAsync(TelegramCommandContext context, CancellationToken cancellationToken);
}

/// <summary>Who ran a command, where, with which arguments (the text after the command).</summary>
internal sealed record TelegramCommandContext(string Arguments, Message Message, User From, bool IsApprover, IReadOnlyList<ITelegramCommand> Commands)
{
    /// <summary>The chat the command counts as sent in: the approvers' chat for an approver's command from a group it was upgraded from.</summary>
    public long ChatId { get; init; } = Message.Chat.Id;

    /// <summary>The approvers' chat, the only one where approvers' commands and buttons work.</summary>
    public long? ApproversChatId { get; init; }
}
