using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Caldera.Generators;

/// <summary>A parsed JSON value: an object (keys in file order), an array, a string, a number (its text), true/false or null.</summary>
internal sealed class JsonValue
{
    public JsonKind Kind { get; private set; }
    public string Text { get; private set; } = "";
    public List<KeyValuePair<string, JsonValue>> Properties { get; } = new();
    public List<JsonValue> Items { get; } = new();

    public static JsonValue Of(JsonKind kind, string text = "") => new() { Kind = kind, Text = text };

    public JsonValue? Property(string name)
    {
        foreach (var p in Properties)
            if (p.Key == name) return p.Value;
        return null;
    }
}

internal enum JsonKind { Object, Array, String, Number, True, False, Null }

/// <summary>JSON that is not well formed, with the 1-based line and column of the problem.</summary>
internal sealed class JsonSyntaxException(string problem, int line, int column) : Exception(problem)
{
    public int Line { get; } = line;
    public int Column { get; } = column;
}

/// <summary>
/// A small strict JSON reader (RFC 8259) for model descriptions. Analyzers on netstandard2.0 cannot count on
/// System.Text.Json being loadable, so the generator carries its own; nesting is capped so a hostile file
/// cannot overflow the stack.
/// </summary>
internal sealed class JsonReader
{
    private const int MaxDepth = 32;
    private readonly string _text;
    private int _at;

    private JsonReader(string text) => _text = text;

    public static JsonValue Parse(string text)
    {
        var reader = new JsonReader(text);
        if (text.Length > 0 && text[0] == '\uFEFF') reader._at = 1;
        var value = reader.Value(0);
        reader.SkipSpace();
        if (reader._at < text.Length) throw reader.Error("unexpected text after the JSON value");
        return value;
    }

    private JsonValue Value(int depth)
    {
        if (depth > MaxDepth) throw Error($"nesting deeper than {MaxDepth}");
        SkipSpace();
        if (_at >= _text.Length) throw Error("unexpected end of the file");
        char c = _text[_at];
        switch (c)
        {
            case '{': return Object(depth);
            case '[': return Array(depth);
            case '"': return JsonValue.Of(JsonKind.String, String());
            case 't': Literal("true"); return JsonValue.Of(JsonKind.True);
            case 'f': Literal("false"); return JsonValue.Of(JsonKind.False);
            case 'n': Literal("null"); return JsonValue.Of(JsonKind.Null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return JsonValue.Of(JsonKind.Number, Number());
                throw Error($"unexpected character '{c}'");
        }
    }

    private JsonValue Object(int depth)
    {
        var result = JsonValue.Of(JsonKind.Object);
        _at++;
        SkipSpace();
        if (Peek('}')) return result;
        while (true)
        {
            SkipSpace();
            if (!Peek('"', consume: false)) throw Error("expected a property name in double quotes");
            string key = String();
            SkipSpace();
            Expect(':');
            result.Properties.Add(new KeyValuePair<string, JsonValue>(key, Value(depth + 1)));
            SkipSpace();
            if (Peek('}')) return result;
            Expect(',');
        }
    }

    private JsonValue Array(int depth)
    {
        var result = JsonValue.Of(JsonKind.Array);
        _at++;
        SkipSpace();
        if (Peek(']')) return result;
        while (true)
        {
            result.Items.Add(Value(depth + 1));
            SkipSpace();
            if (Peek(']')) return result;
            Expect(',');
        }
    }

    private string String()
    {
        _at++; // opening quote
        var s = new StringBuilder();
        while (true)
        {
            if (_at >= _text.Length) throw Error("unterminated string");
            char c = _text[_at++];
            if (c == '"') return s.ToString();
            if (c < ' ') throw Error("control character inside a string");
            if (c != '\\')
            {
                s.Append(c);
                continue;
            }
            if (_at >= _text.Length) throw Error("unterminated escape");
            char e = _text[_at++];
            switch (e)
            {
                case '"': s.Append('"'); break;
                case '\\': s.Append('\\'); break;
                case '/': s.Append('/'); break;
                case 'b': s.Append('\b'); break;
                case 'f': s.Append('\f'); break;
                case 'n': s.Append('\n'); break;
                case 'r': s.Append('\r'); break;
                case 't': s.Append('\t'); break;
                case 'u':
                    if (_at + 4 > _text.Length || !int.TryParse(_text.Substring(_at, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                        throw Error("\\u needs four hex digits");
                    s.Append((char)code);
                    _at += 4;
                    break;
                default: throw Error($"unknown escape \\{e}");
            }
        }
    }

    private string Number()
    {
        int start = _at;
        if (_text[_at] == '-') _at++;
        if (!Digits()) throw Error("a number needs digits");
        if (_at < _text.Length && _text[_at] == '.')
        {
            _at++;
            if (!Digits()) throw Error("a fraction needs digits");
        }
        if (_at < _text.Length && (_text[_at] == 'e' || _text[_at] == 'E'))
        {
            _at++;
            if (_at < _text.Length && (_text[_at] == '+' || _text[_at] == '-')) _at++;
            if (!Digits()) throw Error("an exponent needs digits");
        }
        return _text.Substring(start, _at - start);
    }

    private bool Digits()
    {
        int start = _at;
        while (_at < _text.Length && _text[_at] >= '0' && _text[_at] <= '9') _at++;
        return _at > start;
    }

    private void Literal(string word)
    {
        if (string.CompareOrdinal(_text, _at, word, 0, word.Length) != 0) throw Error($"unexpected text (expected {word})");
        _at += word.Length;
    }

    private void SkipSpace()
    {
        while (_at < _text.Length && (_text[_at] == ' ' || _text[_at] == '\t' || _text[_at] == '\n' || _text[_at] == '\r')) _at++;
    }

    private bool Peek(char c, bool consume = true)
    {
        if (_at >= _text.Length || _text[_at] != c) return false;
        if (consume) _at++;
        return true;
    }

    private void Expect(char c)
    {
        if (!Peek(c)) throw Error(_at >= _text.Length ? $"unexpected end of the file (expected '{c}')" : $"expected '{c}' but found '{_text[_at]}'");
    }

    private JsonSyntaxException Error(string problem)
    {
        int line = 1, column = 1;
        for (int i = 0; i < _at && i < _text.Length; i++)
        {
            if (_text[i] == '\n')
            {
                line++;
                column = 1;
            }
            else column++;
        }
        return new JsonSyntaxException(problem, line, column);
    }
}
