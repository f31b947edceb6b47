namespace ApprovalBot.Cli;

/// <summary>The standard streams of one run; tests hand in their own instead of the console.</summary>
internal sealed record CliIo(TextReader In, TextWriter Out, TextWriter Error);
