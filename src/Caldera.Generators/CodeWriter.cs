using System;
using System.Text;

namespace Caldera.Generators;

/// <summary>Lines of C# with four-space indentation and '\n' line ends (generated files are byte-identical on every OS).</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private int _depth;

    public CodeWriter Line(string line = "")
    {
        if (line.Length > 0) _text.Append(' ', 4 * _depth).Append(line);
        _text.Append('\n');
        return this;
    }

    /// <summary>Writes <paramref name="header"/> and "{", indents until the returned scope is disposed, then writes "}" + <paramref name="close"/>.</summary>
    public IDisposable Block(string header, string close = "")
    {
        Line(header);
        Line("{");
        _depth++;
        return new Scope(this, close);
    }

    public override string ToString() => _text.ToString();

    private sealed class Scope(CodeWriter writer, string close) : IDisposable
    {
        public void Dispose()
        {
            writer._depth--;
            writer.Line("}" + close);
        }
    }
}
