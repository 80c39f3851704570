using Caldera.Compiler.Evaluation;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Cli;

/// <summary>The <c>.cald</c> format behind <c>compress</c> (write) and <c>eval</c> (read).</summary>
internal sealed class CaldModelFormat : ICompressedModelWriter, ICompressedModelReader
{
    public static CaldModelFormat Instance { get; } = new();

    public long Write(CompressedModelContent content, string path)
    {
        CaldWriter.Write(path, content);
        return new FileInfo(path).Length;
    }

    public bool Recognizes(string path) => File.Exists(path) && CaldFile.HasMagic(path);

    public EvaluatedModel Open(string path, string? tokenizerPath)
    {
        var model = LoadedModel.Open(path);
        try
        {
            var file = model.Compressed!;
            var tokenizer = tokenizerPath != null ? ModelTokenizer.Load(tokenizerPath) : model.EmbeddedTokenizer();
            tokenizer?.CheckFits(model.Config.VocabSize, path, tokenizerPath ?? path);
            return new EvaluatedModel(path, model.Config, options => model.CreateTransformer(options), tokenizer,
                file.Bits, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
