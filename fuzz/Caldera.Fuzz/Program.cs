using Caldera;
using Caldera.Fuzz;
using Caldera.Runtime.Formats;
using SharpFuzz;

// caldera-fuzz <reader>                 run under afl-fuzz (scripts/fuzz.sh): each input on stdin through the reader
// caldera-fuzz seed <corpus folder>     write the tiny valid inputs that start each reader's corpus
// caldera-fuzz replay <reader> <file>…  run inputs once and say which fail the contract (for triaging a crash)
switch (args)
{
    case ["seed", var corpus]:
        FuzzSeeds.Write(corpus);
        return 0;
    case ["replay", var reader, .. var files]:
        int failures = 0;
        foreach (var file in files)
        {
            string scratch = Directory.CreateTempSubdirectory("caldera-fuzz-").FullName;
            try
            {
                FuzzTargets.Run(reader, File.ReadAllBytes(file), scratch);
                Console.WriteLine($"{file}: read");
            }
            catch (ModelFormatException e)
            {
                Console.WriteLine($"{file}: rejected: {e.Message[..Math.Min(e.Message.Length, 300)]}");
            }
            catch (Exception e)
            {
                failures++;
                Console.WriteLine($"{file}: BUG {e}");
            }
            finally
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
        return failures == 0 ? 0 : 1;
    case [var reader] when FuzzTargets.Readers.Contains(reader):
        // One scratch folder for the whole (persistent) process; tmpfs keeps the per-input file writes cheap.
        string folder = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"caldera-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        Fuzzer.Run(stream =>
        {
            var input = new MemoryStream();
            stream.CopyTo(input);
            try
            {
                FuzzTargets.Run(reader, input.ToArray(), folder);
            }
            catch (ModelFormatException)
            {
                // The documented rejection of a bad input; anything else escapes and AFL records a crash.
            }
        });
        return 0;
    default:
        Console.Error.WriteLine($"usage: caldera-fuzz <{string.Join('|', FuzzTargets.Readers)}> | seed <folder> | replay <reader> <file>...");
        return 2;
}
