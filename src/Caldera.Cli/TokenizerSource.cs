using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Cli;

/// <summary>
/// Where a checkpoint's tokenizer comes from, as <c>run</c> finds it: --tokenizer, else tokenizer.model or
/// tokenizer.json inside or beside the model, else the vocabulary embedded in the checkpoint.
/// </summary>
internal sealed record TokenizerSource(ModelTokenizer Tokenizer, TokenizerPayload Payload)
{
    private static readonly string[] FileNames = ["tokenizer.model", "tokenizer.json"];

    /// <summary>The tokenizer of <paramref name="checkpoint"/>; one whose ids do not fit the model's vocabulary is rejected.</summary>
    public static TokenizerSource Find(string modelPath, string? tokenizerPath, ModelCheckpoint checkpoint)
    {
        var found = FindAny(modelPath, tokenizerPath, checkpoint, out string source);
        found.Tokenizer.CheckFits(checkpoint.Config.VocabSize, modelPath, source);
        return found;
    }

    private static TokenizerSource FindAny(string modelPath, string? tokenizerPath, ModelCheckpoint checkpoint, out string source)
    {
        source = tokenizerPath ?? modelPath;
        if (tokenizerPath is not null) return FromFile(tokenizerPath);
        string folder = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        foreach (var name in FileNames)
        {
            string candidate = Path.Combine(folder, name);
            if (!File.Exists(candidate)) continue;
            source = candidate;
            return FromFile(candidate);
        }
        if (checkpoint.Vocabulary is { } vocabulary)
            return new TokenizerSource(ModelTokenizer.FromVocabulary(vocabulary, modelPath), TokenizerPayload.FromVocabulary(vocabulary));
        throw new ModelFormatException(modelPath,
            $"no tokenizer found: no {string.Join(" or ", FileNames)} beside the model and no vocabulary inside it; pass --tokenizer <file>");
    }

    private static TokenizerSource FromFile(string path) => new(ModelTokenizer.Load(path), TokenizerPayloads.FromFile(path));
}
