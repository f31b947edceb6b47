using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Execution.Routes;
using ApprovalBot.Pipe;
using ApprovalBot.Reconciliation;
using ApprovalBot.Telegram;

namespace ApprovalBot.Hosting;

/// <summary>
/// Where each feature's settings are and which options read them: the one list both start-up checks go by.
/// <see cref="HostRun.ValidateConfiguration"/> reads every feature's options (values of the wrong type or out of range);
/// <see cref="UnknownSettings"/> refuses keys none of them reads. A feature (or a section of one) added here is checked
/// both ways; when each check kept a list of its own, one added to only one list had its keys refused as unknown, or
/// its values went unchecked until a service first read them.
/// </summary>
internal static class FeatureSettings
{
    /// <summary>The store's settings are the keys of <c>ApprovalBot</c> itself; every other section is below it.</summary>
    public static readonly SettingsSection Store = SettingsSection.Of<StoreOptions>(StoreOptions.Section);

    /// <summary>
    /// Any name below <c>Kinds</c> is a kind, with its settings and its executor route (<c>Executor</c>: the execution
    /// feature's, whose options are read with the execution's own).
    /// </summary>
    public static readonly SettingsSection Kinds = new(KindsOptions.Section, typeof(KindOptions), [SettingsSection.Options<KindsOptions>()])
    {
        Groups = [("Executor", typeof(ExecutorRouteOptions))],
    };

    /// <summary>Every section, in the order their failures are reported.</summary>
    public static readonly IReadOnlyList<SettingsSection> All =
    [
        Store,
        Kinds,
        SettingsSection.Of<AgentPipeOptions>(AgentPipeOptions.Section),
        SettingsSection.Of<TelegramOptions>(TelegramOptions.Section),
        SettingsSection.Of<SandboxOptions>(SandboxOptions.Section),
        new(ExecutionOptions.Section, typeof(ExecutionOptions), [SettingsSection.Options<ExecutionOptions>(), SettingsSection.Options<ExecutorRoutesOptions>()]),
        SettingsSection.Of<ReconciliationOptions>(ReconciliationOptions.Section),
    ];
}
