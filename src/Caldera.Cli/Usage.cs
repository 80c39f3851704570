namespace Caldera.Cli;

internal static class Usage
{
    public static int Print(TextWriter writer, int exitCode)
    {
        writer.WriteLine("""
            usage:
              caldera run <model> [--tokenizer <file>] --prompt "..." [--steps N] [--temperature T]
                          [--top-p P] [--top-k K] [--repetition-penalty R] [--seed S] [--threads N]
              caldera inspect <model>

            <model> is a Hugging Face directory (config.json + *.safetensors), a .gguf file, a llama2.c .bin
            or a compressed .cald model (which carries its tokenizer).
            """);
        return exitCode;
    }
}
