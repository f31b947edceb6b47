using ApprovalBot.Cli;

// Stdin is handed over as bytes: SubmitInput decodes it as UTF-8 whatever the terminal says (and refuses bytes that
// are not UTF-8), so the hash an agent computes matches the one stored.
// A terminal on stdin means "no text piped": reading it would block on a human, so hand over nothing instead.
var stdin = Console.IsInputRedirected ? Console.OpenStandardInput() : Stream.Null;
// The runtime hands over the arguments decoded, invalid UTF-8 replaced; ArgumentBytes looks at the bytes when that may have happened.
return await CliApp.RunAsync(args, stdin, Console.Out, Console.Error, blockingIo: true, commandLine: ArgumentBytes.ReadOwnCommandLine);
