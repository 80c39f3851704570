using Caldera.Cli;

return CalderaCli.Run(args, Console.Out, Console.Error);
