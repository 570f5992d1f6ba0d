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
        s = s.Replace(" AndAlso ", " && ").Replace(" OrElse ", " || ").Replace("IIF(", "Cond(");
        return s;
    }

    [GeneratedRegex(@"value\([^()]*\)\.")]
    private static partial Regex ClosureRegex();
    [GeneratedRegex(@"Convert\(([^(),]+), (\w+)\)")]
    private static partial Regex ConvertRegex();

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
        float f => Num(f) + "f",
        int i => i.ToString(CultureInfo.InvariantCulture),
        int[] a => "new[] { " + string.Join(", ", a) + " }",
        string s => "\"" + s + "\"",
        DType dt => "DType." + dt,
        Enum en => en.GetType().Name + "." + en,
        Aval a => a.ToString(),
        Tensor t => t.Rank == 0 ? (t.IsWeak ? Num((double)t) : $"Tensor.Scalar({Num((double)t)}, DType.{t.DType})") : $"<constant {t.Aval}>",
        Primitive p => p.Name,
        _ => v.ToString() ?? "?",
    };

    static string Num(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s : s + ".0";
    }

    /// <summary>A program as a C# lambda with one named local per node.</summary>
    public static string Show(Graph g, IReadOnlyList<(string Name, Type Type)> parameters, IReadOnlyList<string> inputNames, TreeDef outDef)
    {
        var sb = new StringBuilder();
        sb.Append('(').Append(string.Join(", ", parameters.Select(p => $"{TypeName(p.Type)} {p.Name}"))).AppendLine(") =>");
        sb.AppendLine("{");
        var names = new Dictionary<Node, string>(RefEq<Node>.Instance);
        for (int i = 0; i < g.Inputs.Length; i++) names[g.Inputs[i]] = inputNames[i];
        int counter = 0;
        Body(g, names, sb, "    ", ref counter);
        int pos = 0;
        sb.Append("    return ").Append(Construct(outDef, g.Outputs.Select(o => names[o]).ToList(), ref pos)).AppendLine(";");
        sb.Append('}');
        return sb.ToString();
    }

    static string Construct(TreeDef d, List<string> leaves, ref int pos)
    {
        if (d.IsLeaf) return leaves[pos++];
        var parts = new List<string>();
        for (int i = 0; i < d.Children.Length; i++) parts.Add(Construct(d.Children[i], leaves, ref pos));
        return TreeDef.IsValueTuple(d.Type) ? "(" + string.Join(", ", parts) + ")" : $"new {TypeName(d.Type)}({string.Join(", ", parts)})";
    }

    static string KindName(Kind k) => k switch
    {
        Kind.Tensor => "Tensor", Kind.Double => "double", Kind.Float => "float", Kind.Bool => "bool", Kind.Aval => "Aval", _ => "object",
    };

    static void Body(Graph g, Dictionary<Node, string> names, StringBuilder sb, string indent, ref int counter)
    {
        foreach (var n in g.Nodes)
        {
            if (n.IsConst) { names[n] = Literal(n.Value); continue; }
            var name = "t" + (++counter);
            var args = n.Args.Select(a => names[a]).ToArray();
            if (n.Op.BlockHeads is { } blockHeads)
            {
                // a statement with one block per sub-graph (if/else), each binding its inputs to the trailing operands
                var heads = blockHeads(args);
                sb.Append(indent).Append(KindName(n.Kind)).Append(' ').Append(name).AppendLine(";");
                for (int s = 0; s < n.Subgraphs.Length; s++)
                {
                    sb.Append(indent).AppendLine(heads[s]);
                    sb.Append(indent).AppendLine("{");
                    var sub = n.Subgraphs[s];
                    var inner = new Dictionary<Node, string>(RefEq<Node>.Instance);
                    int first = args.Length - sub.Inputs.Length;
                    for (int i = 0; i < sub.Inputs.Length; i++) inner[sub.Inputs[i]] = args[first + i];
                    Body(sub, inner, sb, indent + "    ", ref counter);
                    sb.Append(indent).Append("    ").Append(name).Append(" = ").Append(inner[sub.Outputs[0]]).AppendLine(";");
                    sb.Append(indent).AppendLine("}");
                }
            }
            else
            {
                var text = n.Op.Format(args.Select((a, i) => n.Args[i].IsConst || n.Args[i].IsInput || !a.Contains(' ') ? a : "(" + a + ")").ToArray(),
                                       n.Args.Select(a => a.Kind).ToArray(), n.Params);
                if (n.Batch > 0) text += $" /* batch {n.Batch} */";
                sb.Append(indent).Append("var ").Append(name).Append(" = ").Append(text).AppendLine(";");
            }
            names[n] = name;
        }
    }
}
