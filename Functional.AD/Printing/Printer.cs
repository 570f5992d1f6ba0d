using System.Globalization;
using System.Linq.Expressions;
using System.Text;
using System.Text.RegularExpressions;

namespace Functional.AD;

/// <summary>Prints programs and expressions as readable C#.</summary>
internal static partial class Printer
{
    /// <summary>A LINQ expression as C#-like text (closures shown by their captured names).</summary>
    public static string Expr(Expression e)
    {
        var s = e.ToString();
        s = ClosureRegex().Replace(s, "");
        s = ConvertRegex().Replace(s, m => $"({TypeKeyword(m.Groups[2].Value)}){m.Groups[1].Value}");
        // the tensor indexer as C# writes it: x[i, Ix.All], not x.get_Slice(new [] {(Ix)i, Ix.All})
        s = SliceRegex().Replace(s, m => $"[{m.Groups[1].Value.Replace("(Ix)", "")}]");
        s = s.Replace(" AndAlso ", " && ").Replace(" OrElse ", " || ").Replace("IIF(", "Cond(");
        return s;
    }

    [GeneratedRegex(@"value\([^()]*\)\.")]
    private static partial Regex ClosureRegex();
    [GeneratedRegex(@"Convert\(([^(),]+), (\w+)\)")]
    private static partial Regex ConvertRegex();
    [GeneratedRegex(@"\.get_Slice\(new \[\] \{(.*?)\}\)")]
    private static partial Regex SliceRegex();

    static string StringLiteral(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
            sb.Append(c switch
            {
                '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '\0' => "\\0",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return sb.Append('"').ToString();
    }

    static string TypeKeyword(string clr) => clr switch { "Double" => "double", "Single" => "float", "Int32" => "int", "Boolean" => "bool", _ => clr };

    public static string TypeName(Type t)
    {
        if (t == typeof(double)) return "double";
        if (t == typeof(float)) return "float";
        if (t == typeof(int)) return "int";
        if (t == typeof(bool)) return "bool";
        if (t == typeof(string)) return "string";
        if (TreeDef.IsValueTuple(t)) return "(" + string.Join(", ", t.GetGenericArguments().Select(TypeName)) + ")";
        if (t.IsArray) return TypeName(t.GetElementType()!) + "[]";
        if (t.IsGenericType)
            return t.Name[..t.Name.IndexOf('`')] + "<" + string.Join(", ", t.GetGenericArguments().Select(TypeName)) + ">";
        return t.Name;
    }

    public static string Literal(object? v) => v switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        double d => Num(d),
        float f => NumF(f),
        int i => i.ToString(CultureInfo.InvariantCulture),
        int[] a => "new int[] { " + string.Join(", ", a) + " }",
        string s => StringLiteral(s),
        DType dt => "DType." + dt,
        Enum en => en.GetType().Name + "." + en,
        Aval a => AvalLiteral(a),
        Tensor t => TensorLiteral(t),
        Primitive p => p.Name,
        _ => v.ToString() ?? "?",
    };

    static string NumF(float f)
    {
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        return f.ToString("R", CultureInfo.InvariantCulture) + "f";
    }

    static string Num(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s : s + ".0";
    }

    /// <summary><c>new Aval(new int[] { 3, 2 }, DType.Float32)</c>: an aval as C# that makes it.</summary>
    static string AvalLiteral(Aval a) =>
        $"new Aval({Literal(a.Dims)}, DType.{a.DType}{(a.Weak ? ", weak: true" : "")})";

    /// <summary>
    /// A constant tensor as C# that makes it: a weak scalar as a bare number (it converts where a tensor is expected),
    /// a scalar as <c>Tensor.Scalar(v, dtype)</c>, one value repeated as <c>Np.Full(shape, v, dtype)</c>, any other as
    /// <c>new Tensor(values, shape)</c>, every element written
    /// out (round-trip precision) so that the printed program computes the same numbers.
    /// </summary>
    static string TensorLiteral(Tensor t)
    {
        if (t.Rank == 0 && t.IsWeak) return Num((double)t);
        if (t.Rank == 0 && t.DType is DType.Float32 or DType.Float64) return $"Tensor.Scalar({Num((double)t)}, DType.{t.DType})";
        string shape = Literal(t.Shape.ToArray());
        // a constant of one repeated value (a mean's cotangent broadcast to its operand, a mask of ones) as Np.Full
        var all = t.DType is DType.Float32 or DType.Float64 ? t.ToDoubleArray() : [];
        if (all.Length > 1 && all.All(v => v.Equals(all[0])))
            return $"Np.Full({shape}, {Num(all[0])}, DType.{t.DType})";
        string made = t.DType == DType.Float32
            ? $"new Tensor(new float[] {{ {string.Join(", ", t.ToFloatArray().Select(NumF))} }}, {shape})"
            : $"new Tensor(new double[] {{ {string.Join(", ", t.ToDoubleArray().Select(Num))} }}, {shape})";
        if (t.DType is not (DType.Float32 or DType.Float64)) made += $".AsType(DType.{t.DType})";
        return made;
    }

    /// <summary>
    /// An <c>InferAval</c> node as the C# it stands for: the aval of <paramref name="p"/> run on zeros of its operands'
    /// avals (abstract evaluation, as <c>Rt.InferAval</c> computes it), e.g. <c>Lax.AvalOf(Lax.Zeros(t3) * Lax.Zeros(t4))</c>.
    /// </summary>
    public static string InferAvalCall(Primitive p, Params prm, Kind[] kinds, string[] avals, int batch = 0)
    {
        if (batch > 0) return BatchedInferAvalCall(p, prm, kinds, avals, batch);
        var zeros = Placeholders(kinds, avals);
        string call;
        try { call = p.Format(zeros, kinds, prm); }
        catch (InvalidOperationException) { call = $"{p.Name}({string.Join(", ", zeros)})"; }
        return $"Lax.AvalOf({call})";
    }

    /// <summary>The operands an aval is inferred on, as C#: zeros of each tensor operand's aval, a default scalar, an aval as is.</summary>
    static string[] Placeholders(Kind[] kinds, string[] avals) => kinds.Select((k, i) => k switch
    {
        Kind.Double => "0.0",
        Kind.Float => "0f",
        Kind.Bool => "false",
        Kind.Aval => avals[i],
        _ => $"Lax.Zeros({avals[i]})",
    }).ToArray();

    /// <summary>
    /// The aval of a node at batch count <paramref name="batch"/> (Vmap's, its shape inferred before shapes are known):
    /// <c>Lax.AvalOf((Tensor)Lax.Batched(k, (Tensor a, Tensor b) =&gt; a * b, Lax.Zeros(t3), Lax.Zeros(t4)))</c>, the
    /// primitive applied per example to zeros of its operands' avals.
    /// </summary>
    static string BatchedInferAvalCall(Primitive p, Params prm, Kind[] kinds, string[] avals, int batch)
    {
        var names = kinds.Select((_, i) => ParamName(i)).ToArray();
        var zeros = Placeholders(kinds, avals);
        string call;
        try { call = p.Format(names, kinds, prm); }
        catch (InvalidOperationException) { call = $"{p.Name}({string.Join(", ", names)})"; }
        var batched = $"Lax.Batched({batch}, ({string.Join(", ", kinds.Select((k, i) => $"{KindName(k)} {names[i]}"))}) => {call}, {string.Join(", ", zeros)})";
        return p.KindOf(kinds, prm, []) == Kind.Aval ? $"(Aval){batched}" : $"Lax.AvalOf((Tensor){batched})";
    }

    /// <summary>The name of parameter <paramref name="i"/> of a one-line lambda: a, b, c, ... (a lambda's parameter may
    /// shadow a local of the method, and these lambdas capture nothing).</summary>
    public static string ParamName(int i) => i < 26 ? ((char)('a' + i)).ToString() : "a" + i;

    /// <summary>The C# type a value of kind <paramref name="k"/> has.</summary>
    public static string KindName(Kind k) => k switch
    {
        Kind.Tensor => "Tensor", Kind.Double => "double", Kind.Float => "float", Kind.Bool => "bool", Kind.Aval => "Aval", Kind.Tuple => "object[]", _ => "object",
    };
}
