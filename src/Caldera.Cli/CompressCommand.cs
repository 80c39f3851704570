using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Caldera.Cli.Progress;
using Caldera.Common;
using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Evaluation;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Spectre.Console;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera compress</c>: calibrate, compress every block matrix, and write the compressed model. Progress
/// goes to stderr; finished blocks are cached in <c>&lt;out&gt;.parts/</c> so a rerun of an interrupted
/// compression (Ctrl+C, a crash) picks up where it stopped. The cache is removed once the model is written.
/// </summary>
internal static class CompressCommand
{
    /// <summary>Calibration sequence length when --seq-len is not given (capped at the model's context).</summary>
    private const int DefaultSequenceLength = 128;

    private static readonly Argument<string> Model = CliOptions.Model("The checkpoint to compress: a Hugging Face directory, a .gguf file or a llama2.c .bin.");
    private static readonly Option<string?> Output = CliOptions.Text("--output", "The compressed model to write (required).", "out.cald", "-o");
    private static readonly Option<string?> Tokenizer = CliOptions.Text("--tokenizer", "tokenizer.model or tokenizer.json to use and embed; default: found inside or beside the checkpoint.");
    private static readonly Option<string> Method = CliOptions.Choice("--method",
        "caldera: Q + L·R; ldlq: the 2-bit lattice Q alone (as --rank 0); rtn: round-to-nearest Q alone, --q-bits wide.", "caldera", "ldlq", "rtn");
    private static readonly Option<int> Rank = CliOptions.Int("--rank", "Rank of the low-rank factors L and R; 0 keeps Q alone (LDLQ).", 64, min: 0);
    private static readonly Option<float> Bits = CliOptions.Float("--bits",
        "Instead of --rank: a bits-per-weight budget for the linear layers, spent in ranks where they lower the loss most: each matrix's activation-weighted spectrum priced by the model's output gradients on the calibration text (caldera inspect shows each matrix's rank).",
        0f, b => b > 0 ? null : "must be positive");
    private static readonly Option<int> QBits = CliOptions.Int("--q-bits", "Bits per weight of Q: 2 (the E8P lattice) for caldera and ldlq, 2..8 for rtn.", 2, min: 1);
    private static readonly Option<int> LrBits = CliOptions.Int("--lr-bits", "Bits per entry of L and R: 4 (lattice) or 16 (half precision).", 4, min: 1);
    private static readonly Option<string> Embedding = CliOptions.Choice("--embedding",
        "Storage of the token embedding and of a classifier not compressed: int6 (6.5 bits per weight, read in place by the classifier kernel; " +
        "f16 where that is smaller, dim below 104), int4 (4.5 bits per weight, rows padded to 32 only) or f16.", "int6", "int4", "f16");
    private static readonly Option<string> Classifier = CliOptions.Choice("--classifier",
        "Storage of the classifier: caldera (compressed like a block matrix against the final norm's outputs; a tied model's classifier " +
        "becomes a matrix of its own) or embedding (stored as --embedding says; a tied classifier is the embedding, stored once).", "embedding", "caldera");
    private static readonly Option<string> Preset = CliOptions.Choice("--preset", "fast: few alternating iterations; paper: the paper's settings (slower).", "fast", "paper");
    private static readonly Option<string?> Calibration = CliOptions.Text("--calibration", "UTF-8 text to calibrate on; default: the built-in text.");
    private static readonly Option<int?> Samples = CliOptions.OptionalInt("--samples", "Calibration sequences; default: as many as the text fills.", min: 1);
    private static readonly Option<int?> SequenceLength = CliOptions.OptionalInt("--seq-len", $"Tokens per calibration sequence; default: {DefaultSequenceLength}, capped at the model's context.", min: 2);
    private static readonly Option<int?> Threads = CliOptions.OptionalInt("--threads", "Worker threads; default: one per processor.", min: 1);
    private static readonly Option<long?> MaxMemory = CliOptions.Size("--max-memory",
        "Cap on the compressor's managed memory, e.g. 8G or 512M: as many matrices at once as fit, one if memory is short, " +
        "and an error saying what one matrix needs if even that does not fit; default: no cap.");

    public static Command Create(CliContext cli)
    {
        var command = new Command("compress",
            "Calibrate, compress every block matrix and write a .cald model. Finished layers are cached in <out.cald>.parts/; " +
            "a rerun with the same settings resumes from them.")
        {
            Model, Output, Tokenizer, Method, Rank, Bits, QBits, LrBits, Embedding, Classifier, Preset, Calibration, Samples, SequenceLength, Threads, MaxMemory,
        };
        command.SetAction(parsed => Execute(parsed, cli));
        return command;
    }

    private static int Execute(ParseResult parsed, CliContext cli)
    {
        var (stdout, stderr) = (cli.Out, cli.Error);
        string modelPath = parsed.GetValue(Model)!;
        string output = parsed.GetValue(Output) ?? throw new CliUsageException("compress: -o <out.cald> is required");
        var plan = Plan(parsed);
        var writer = cli.Format.Writer ?? throw new CliUsageException("compress: this build has no compressed-model writer");
        OutputPath.Check("compress", "-o", output, modelPath, parsed.GetValue(Tokenizer), parsed.GetValue(Calibration));

        using var checkpoint = ModelCheckpoint.Open(modelPath);
        if (parsed.GetResult(Bits) is { Implicit: false }) plan = WithBudget(plan, checkpoint.Config, parsed.GetValue(Bits));
        var tokenizer = TokenizerSource.Find(modelPath, parsed.GetValue(Tokenizer), checkpoint);
        var text = parsed.GetValue(Calibration) is { } calibrationPath ? CalibrationText.FromFile(calibrationPath) : CalibrationText.BuiltIn();
        int length = parsed.GetValue(SequenceLength) ?? Math.Min(DefaultSequenceLength, checkpoint.Config.ContextLength);
        if (length > checkpoint.Config.ContextLength)
            throw new CliUsageException($"compress: --seq-len {length} exceeds the model's context of {checkpoint.Config.ContextLength}");
        var calibration = CalibrationSet.Create(text, tokenizer.Tokenizer, parsed.GetValue(Samples), length);
        stderr.WriteLine($"calibration: {calibration.Samples} sequences × {calibration.SequenceLength} tokens from {calibration.Description}");
        if (parsed.GetValue(MaxMemory) is { } cap) plan = WithinCap(plan, checkpoint.Config, calibration, cap, cli);

        string cacheDirectory = LayerCache.DirectoryFor(output);
        var clock = Stopwatch.StartNew();
        var compressor = new ModelCompressor(plan);
        CompressedModelContent Compress(IProgress<CompressionProgress> progress) => compressor.Compress(checkpoint, calibration, tokenizer.Payload,
            SourceHash.Of(modelPath), cacheDirectory, progress, cli.Cancellation);
        var times = new LayerTimes();
        CompressedModelContent content;
        try
        {
            content = cli.Terminal is { } terminal
                ? LiveProgress.Run(terminal, checkpoint.Config.LayerCount, CompressionSummary.Kinds.Length, live => Compress(times.Around(live)))
                : Compress(times.Around(new PlainProgress(stderr)));
        }
        catch (Exception e) when (WriteError(e) is { } io)
        {
            throw OutputPath.WriteFailed(cacheDirectory, io, " (finished layers already there are kept and resumed from)");
        }
        long fileBytes;
        try
        {
            fileBytes = writer.Write(content, output);
        }
        catch (Exception e) when (WriteError(e) is { } io)
        {
            throw OutputPath.WriteFailed(output, io, $" (the finished layers stay in {cacheDirectory} and a rerun resumes from them)");
        }
        // The content's matrices are read back from the cache (one block at a time): the summary goes first.
        (cli.Terminal ?? PlainConsole(stderr)).Write(CompressionSummary.Build(content.Matrices, times.Layers));
        double meanError = content.Matrices.Average(m => m.RelativeError);
        var bits = BitsPerWeight.Of(content, fileBytes);
        if (Directory.Exists(cacheDirectory)) Directory.Delete(cacheDirectory, recursive: true);

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {output}: {content.Matrices.Count} matrices, mean relative error {meanError:F4}, {clock.Elapsed.TotalSeconds:F1} s"));
        stdout.WriteLine($"bits/weight: {bits}");
        return 0;
    }

    /// <summary>The plan with a --bits budget for this model; refused when it is below what Q and one rank cost for some matrix.</summary>
    private static CompressionPlan WithBudget(CompressionPlan plan, LlamaConfig c, float bits)
    {
        var budget = RankBudget.For(bits, c, plan.ClassifierStorage == ClassifierStorage.Caldera);
        (int Rows, int Columns)[] shapes = [(c.QDim, c.Dim), (c.KvDim, c.Dim), (c.Dim, c.QDim), (c.HiddenDim, c.Dim), (c.Dim, c.HiddenDim), (c.VocabSize, c.Dim)];
        foreach (var (rows, columns) in shapes.Take(plan.ClassifierStorage == ClassifierStorage.Caldera ? shapes.Length : shapes.Length - 1))
            if (budget.RankFor(rows, columns, plan.Decomposition.FactorBits) is null)
                throw new CliUsageException(string.Create(CultureInfo.InvariantCulture,
                    $"compress: --bits {bits} is below what Q and one rank cost for this model's {rows}×{columns} matrices; raise it"));
        return plan with { Budget = budget };
    }

    /// <summary>An I/O failure (thrown directly or from a worker thread), or null for any other exception.</summary>
    private static Exception? WriteError(Exception e) => e switch
    {
        IOException or UnauthorizedAccessException => e,
        AggregateException a => a.Flatten().InnerExceptions is [var inner] ? WriteError(inner) : null,
        _ => null,
    };

    private static CompressionPlan Plan(ParseResult parsed)
    {
        string method = parsed.GetValue(Method)!;
        string preset = parsed.GetValue(Preset)!;
        int qBits = parsed.GetValue(QBits);
        int rank = parsed.GetValue(Rank);
        bool rankGiven = parsed.GetResult(Rank) is { Implicit: false };
        if (method != "rtn" && qBits != 2)
            throw new CliUsageException($"compress: --q-bits {qBits} is not available for {method}, whose Q is the 2-bit E8P lattice; use --q-bits 2, or --method rtn for other widths");
        if (method == "rtn" && qBits is < 2 or > 8)
            throw new CliUsageException($"compress: --q-bits {qBits} must be in 2..8 for rtn");
        if (method != "caldera" && rankGiven && rank != 0)
            throw new CliUsageException($"compress: --rank applies to --method caldera only ({method} has no low-rank factors)");
        // Rank 0 is CALDERA with no factors: Q alone, which is what LDLQ computes.
        if (method == "caldera" && rank == 0) method = "ldlq";
        int lrBits = parsed.GetValue(LrBits);
        if (lrBits is not (4 or 16)) throw new CliUsageException($"compress: --lr-bits {lrBits} must be 4 (lattice) or 16 (half precision)");
        bool budgetGiven = parsed.GetResult(Bits) is { Implicit: false };
        if (budgetGiven && rankGiven)
            throw new CliUsageException("compress: give --rank or --bits, not both (--bits chooses each matrix's rank)");
        if (budgetGiven && method != "caldera")
            throw new CliUsageException($"compress: --bits chooses the ranks of --method caldera's factors; {method} has none");
        bool compressClassifier = parsed.GetValue(Classifier) == "caldera";
        if (compressClassifier && method == "rtn")
            throw new CliUsageException("compress: --classifier caldera needs --method caldera or ldlq; use --classifier embedding with rtn");
        int threads = parsed.GetValue(Threads) ?? Environment.ProcessorCount;
        var options = (preset == "paper" ? CalderaOptions.Paper : CalderaOptions.Fast) with { Rank = Math.Max(rank, 1), FactorBits = lrBits };
        return new CompressionPlan
        {
            Method = method switch { "caldera" => CompressionMethod.Caldera, "ldlq" => CompressionMethod.Ldlq, _ => CompressionMethod.Rtn },
            Decomposition = options,
            Preset = preset,
            RtnBits = qBits,
            EmbeddingStorage = parsed.GetValue(Embedding) switch { "f16" => EmbeddingStorage.F16, "int4" => EmbeddingStorage.Int4, _ => EmbeddingStorage.Int6 },
            ClassifierStorage = compressClassifier ? ClassifierStorage.Caldera : ClassifierStorage.AsEmbedding,
            Threads = threads,
            ParallelMatrices = Math.Max(1, Math.Min(7, threads / 2)),
        };
    }

    /// <summary>
    /// The plan with as many matrices in flight as <see cref="MemoryBudget"/> allows within <paramref name="cap"/> bytes;
    /// when the CLI is the whole process the GC heap is also limited to the cap, so the GC collects before it is
    /// reached (and the process fails rather than exceed it, should the estimate be short).
    /// </summary>
    private static CompressionPlan WithinCap(CompressionPlan plan, LlamaConfig config, CalibrationSet calibration, long cap, CliContext cli)
    {
        bool classifier = plan.ClassifierStorage == ClassifierStorage.Caldera;
        int parallel;
        try
        {
            parallel = MemoryBudget.ParallelMatrices(config, plan.Method, calibration.Tokens.Length, cap, plan.ParallelMatrices, classifier);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException($"compress: --max-memory: {e.Message}");
        }
        long need = MemoryBudget.Need(config, plan.Method, calibration.Tokens.Length, parallel, classifier);
        string limit = "";
        if (cli.OwnsProcess)
        {
            AppContext.SetData("GCHeapHardLimit", (ulong)cap);
            try
            {
                GC.RefreshMemoryLimit();
            }
            catch (InvalidOperationException e)
            {
                throw new CliUsageException($"compress: --max-memory {MemorySize.Format(cap)} is below what the process already uses ({e.Message}); raise it");
            }
            limit = $", GC heap limit {MemorySize.Format(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)}";
        }
        cli.Error.WriteLine($"memory: {parallel} matri{(parallel == 1 ? "x" : "ces")} at a time, about {MemorySize.Format(need)} of the {MemorySize.Format(cap)} cap{limit}");
        return plan with { ParallelMatrices = parallel };
    }

    /// <summary>Spectre.Console writing plain text to <paramref name="writer"/>: no colours, no cursor movement.</summary>
    private static IAnsiConsole PlainConsole(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 120;
        return console;
    }
}
