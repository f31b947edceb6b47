using System.CommandLine;

namespace ApprovalBot.Cli.Commands;

internal static class DraftArguments
{
    public static Argument<string> Id() => new("id") { Description = "The draft id." };
}
