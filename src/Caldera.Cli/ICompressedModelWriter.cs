using Caldera.Compiler.Evaluation;
using Caldera.Runtime.Compression;

namespace Caldera.Cli;

/// <summary>Writes a compressed model's content to a file (the <c>.cald</c> format: atomically, byte-identical for identical content).</summary>
internal interface ICompressedModelWriter
{
    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> and returns the file's length in bytes. The content is
    /// valid during the call only: its matrices may be read from the compression's layer cache, removed afterwards.
    /// </summary>
    long Write(CompressedModelContent content, string path);
}

/// <summary>Opens a compressed model file for evaluation, or says it is not one.</summary>
internal interface ICompressedModelReader
{
    /// <summary>Whether <paramref name="path"/> is a compressed model this reader opens (by its magic bytes).</summary>
    bool Recognizes(string path);

    /// <summary>The model bound for inference, its tokenizer and its storage bits; <paramref name="tokenizerPath"/> overrides the embedded tokenizer.</summary>
    EvaluatedModel Open(string path, string? tokenizerPath);
}

/// <summary>The compressed-model format the CLI writes and reads; null parts are reported as unsupported by this build.</summary>
internal sealed record CompressedModelFormat(ICompressedModelWriter? Writer, ICompressedModelReader? Reader)
{
    /// <summary>The <c>.cald</c> format: what the <c>caldera</c> command uses.</summary>
    public static CompressedModelFormat Cald { get; } = new(CaldModelFormat.Instance, CaldModelFormat.Instance);
}
