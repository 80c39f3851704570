using System.Diagnostics;
using Caldera.Fuzz;

namespace Caldera.Runtime.Tests.Fuzzing;

/// <summary>
/// Replays the fuzzer's corpus (fuzz/corpus/&lt;reader&gt;/, grown by scripts/fuzz.sh) through the same targets the fuzzer
/// runs: every input reads or is rejected with a <see cref="ModelFormatException"/>, within a time and an allocation bound.
/// </summary>
public class FuzzCorpusReplayTests
{
    /// <summary>The slowest corpus input takes well under a second here; a hang or a quadratic blow-up passes this.</summary>
    private static readonly TimeSpan PerInputTime = TimeSpan.FromSeconds(20);

    /// <summary>The largest input reads with a few MB; a size taken from the file unchecked would allocate far more.</summary>
    private const long PerInputAllocation = 256L << 20;

    public static TheoryData<string> Readers() => new(FuzzTargets.Readers);

    [Theory]
    [MemberData(nameof(Readers))]
    public async Task Every_corpus_input_reads_or_is_rejected_with_a_model_format_exception(string reader)
    {
        string[] inputs = Directory.GetFiles(Path.Combine(TestModels.RepoRoot, "fuzz", "corpus", reader));
        Assert.NotEmpty(inputs);
        using var scratch = new TempDirectory();
        var failures = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            byte[] bytes = File.ReadAllBytes(inputs[i]);
            string folder = Directory.CreateDirectory(Path.Combine(scratch.Path, i.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
            string name = Path.GetFileName(inputs[i]);
            var run = Task.Run(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                var clock = Stopwatch.StartNew();
                try
                {
                    FuzzTargets.Run(reader, bytes, folder);
                }
                catch (ModelFormatException)
                {
                    // the documented rejection
                }
                return (clock.Elapsed, Allocated: GC.GetAllocatedBytesForCurrentThread() - before);
            });
            try
            {
                var (elapsed, allocated) = await run.WaitAsync(PerInputTime);
                if (allocated > PerInputAllocation) failures.Add($"{name}: allocated {allocated >> 20} MB");
            }
            catch (TimeoutException)
            {
                failures.Add($"{name}: still running after {PerInputTime.TotalSeconds} s");
            }
            catch (Exception e)
            {
                failures.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {inputs.Length} {reader} inputs broke the contract:\n{string.Join("\n", failures)}");
    }
}
