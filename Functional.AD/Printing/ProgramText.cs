using System.Text;
using System.Text.RegularExpressions;

namespace Functional.AD;

/// <summary>
/// Prints a program as a C# method that compiles: the <c>using</c> lines it needs, then
/// <c>static R F(parameters) { ... }</c> with one named local per primitive, every primitive written as its public
/// spelling (an <c>Np</c> or <c>Lax</c> method, an operator, a <c>Math</c> call), conditionals as <c>if</c>/<c>else</c>
/// blocks, loops as <c>Lax.Scan</c>/<c>Lax.While</c> over typed lambdas (their results, an <c>object[]</c>, read by index),
/// nodes of Vmap's batch count as <c>Lax.Batched(k, lambda, operands)</c>, captured tensors as literals. Pasted into a file
/// (a local function of a top-level program, or a member of a class) it computes what the program computes.
/// </summary>
internal sealed partial class ProgramText
{
    readonly StringBuilder sb = new();
    readonly Func<Node, string?>? note;
    readonly string prefix;
    readonly SortedSet<string> problems = new(StringComparer.Ordinal);
    readonly HashSet<Type> types = new();
    readonly SortedSet<string> staticUsings = new(StringComparer.Ordinal);
    int counter;

    ProgramText(Func<Node, string?>? note, string prefix) { this.note = note; this.prefix = prefix; }

    /// <summary>
    /// The text of <paramref name="g"/> as the method <c>F</c>. <paramref name="inputNames"/> name the graph's inputs
    /// (leaf paths such as <c>p.W1</c>); <paramref name="preamble"/> lines open the body as comments;
    /// <paramref name="note"/> gives a node a trailing comment (the specialised form: its aval and lowering).
    /// </summary>
    public static string Print(Graph g, IReadOnlyList<(string Name, Type Type)> parameters, IReadOnlyList<string> inputNames, TreeDef outDef,
        Type returnType, IEnumerable<string>? preamble = null, Func<Node, string?>? note = null)
    {
        // node names t1, t2, ... unless a parameter is already called so
        var prefix = parameters.Any(p => TempName().IsMatch(p.Name)) ? "t_" : "t";
        var w = new ProgramText(note, prefix);
        var names = new Dictionary<Node, string>(RefEq<Node>.Instance);
        for (int i = 0; i < g.Inputs.Length; i++) names[g.Inputs[i]] = inputNames[i];
        foreach (var line in preamble ?? []) w.sb.Append("    // ").AppendLine(line);
        w.Body(g, names, "    ");
        int pos = 0;
        w.sb.Append("    return ").Append(w.Construct(outDef, g.Outputs.Select(o => names[o]).ToList(), ref pos)).AppendLine(";");
        w.sb.Append('}');

        var head = new StringBuilder();
        if (w.problems.Count > 0)
            head.Append("// does not compile: no public C# spelling for ").Append(string.Join(", ", w.problems)).AppendLine();
        foreach (var p in parameters) w.Use(p.Type);
        w.Use(returnType);
        var namespaces = new SortedSet<string>(StringComparer.Ordinal) { "System", "Functional.AD" };
        foreach (var t in w.types) if (Outermost(t).Namespace is { Length: > 0 } ns) namespaces.Add(ns);
        var signature = $"static {w.TypeCode(returnType)} F({string.Join(", ", parameters.Select(p => $"{w.TypeCode(p.Type)} {p.Name}"))})";
        foreach (var ns in namespaces.OrderBy(n => n == "System" ? 0 : 1).ThenBy(n => n, StringComparer.Ordinal)) head.Append("using ").Append(ns).AppendLine(";");
        foreach (var c in w.staticUsings) head.Append("using static ").Append(c).AppendLine(";");
        head.AppendLine();
        head.AppendLine(signature);
        head.AppendLine("{");
        return head.Append(w.sb).ToString();
    }

    [GeneratedRegex(@"^t_?\d+$")]
    private static partial Regex TempName();

    static Type Outermost(Type t)
    {
        while (t.DeclaringType is { } d && !t.IsGenericParameter) t = d;
        return t;
    }

    void Use(Type t)
    {
        if (!types.Add(t)) return;
        if (t.IsArray) Use(t.GetElementType()!);
        if (t.IsGenericType) foreach (var a in t.GetGenericArguments()) Use(a);
    }

    /// <summary>A type as C# source: keywords, tuples, arrays, generics, nested types through their declaring types.</summary>
    string TypeCode(Type t)
    {
        Use(t);
        if (t == typeof(double)) return "double";
        if (t == typeof(float)) return "float";
        if (t == typeof(int)) return "int";
        if (t == typeof(long)) return "long";
        if (t == typeof(bool)) return "bool";
        if (t == typeof(string)) return "string";
        if (t == typeof(object)) return "object";
        // C# writes tuples of two to seven elements as (a, b); ValueTuple<T> and the nested eighth element by name
        if (TreeDef.IsValueTuple(t) && t.GetGenericArguments().Length is >= 2 and <= 7)
            return "(" + string.Join(", ", t.GetGenericArguments().Select(TypeCode)) + ")";
        if (t.IsArray) return TypeCode(t.GetElementType()!) + "[]";
        var name = t.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        if (t.IsGenericType)
        {
            // the arguments of a nested generic type are its own (those beyond its declaring type's)
            var args = t.GetGenericArguments();
            int outer = t.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments().Length : 0;
            if (args.Length > outer) name += "<" + string.Join(", ", args.Skip(outer).Select(TypeCode)) + ">";
        }
        if (t.DeclaringType is not { } decl || t.IsGenericParameter) return name;
        // a type nested in a class (a record declared in a test class): in scope through `using static` of that class
        if (!decl.IsGenericType && decl.FullName is { } full) { staticUsings.Add(full.Replace('+', '.')); return name; }
        return TypeCode(decl) + "." + name;
    }

    string Construct(TreeDef d, List<string> leaves, ref int pos)
    {
        if (d.IsLeaf) return leaves[pos++];
        var parts = new List<string>();
        for (int i = 0; i < d.Children.Length; i++) parts.Add(Construct(d.Children[i], leaves, ref pos));
        return TreeDef.IsValueTuple(d.Type) && parts.Count is >= 2 and <= 7 ? "(" + string.Join(", ", parts) + ")" : $"new {TypeCode(d.Type)}({string.Join(", ", parts)})";
    }

    static string KindName(Kind k) => Printer.KindName(k);

    string Fresh() => prefix + (++counter);

    /// <summary>An operand as it reads inside a larger expression: a compound text in parentheses.</summary>
    static string Operand(Node a, string text) =>
        a.IsInput ? text : a.IsConst ? (text.StartsWith('-') ? "(" + text + ")" : text) : text.Contains(' ') ? "(" + text + ")" : text;

    void Body(Graph g, Dictionary<Node, string> names, string indent)
    {
        foreach (var n in g.Nodes)
        {
            if (names.ContainsKey(n)) continue;
            if (n.IsConst) { names[n] = Printer.Literal(n.Value); continue; }
            var args = n.Args.Select(a => names[a]).ToArray();
            if (n.Op.NoPublicSpelling) problems.Add(n.Op.Name);
            var name = Fresh();
            if (n.Op.BlockHeads is { } blockHeads)
            {
                // a statement with one block per sub-graph (if/else), each binding its inputs to the trailing operands
                var heads = blockHeads(args);
                Line(indent, $"{KindName(n.Kind)} {name};", n);
                for (int s = 0; s < n.Subgraphs.Length; s++)
                {
                    sb.Append(indent).AppendLine(heads[s]);
                    sb.Append(indent).AppendLine("{");
                    var sub = n.Subgraphs[s];
                    var inner = new Dictionary<Node, string>(RefEq<Node>.Instance);
                    int first = args.Length - sub.Inputs.Length;
                    for (int i = 0; i < sub.Inputs.Length; i++) inner[sub.Inputs[i]] = args[first + i];
                    Body(sub, inner, indent + "    ");
                    sb.Append(indent).Append("    ").Append(name).Append(" = ").Append(inner[sub.Outputs[0]]).AppendLine(";");
                    sb.Append(indent).AppendLine("}");
                }
            }
            else
            {
                var operands = args.Select((a, i) => Operand(n.Args[i], a)).ToArray();
                string text;
                if (n.Op.LambdaCall is { } call)
                    text = call(operands, (s, k) => Lambda(n.Subgraphs[s], k, args, indent), n.Params);
                else if (n.Batch > 0)
                    text = BatchedCall(n, args);
                else
                    text = Format(n, operands);
                Line(indent, $"var {name} = {text};", n);
            }
            names[n] = name;
        }
    }

    /// <summary>The node's public spelling over operand texts <paramref name="operands"/> (a primitive that has none for
    /// these kinds is listed as a problem).</summary>
    string Format(Node n, string[] operands)
    {
        try { return n.Op.Format(operands, n.Args.Select(a => a.Kind).ToArray(), n.Params); }
        catch (InvalidOperationException)
        {
            problems.Add($"{n.Op.Name} on operands of kinds {string.Join(", ", n.Args.Select(a => a.Kind))}");
            return $"{n.Op.Name}({string.Join(", ", operands)})";
        }
    }

    /// <summary>
    /// A node of batch count k (Vmap's, before shapes are known) as <c>(Tensor)Lax.Batched(k, (Tensor a, ...) =&gt; op(a, ...), x, ...)</c>:
    /// the unbatched spelling as a lambda over the operands, applied at k leading batch axes. Static operands
    /// stay in the lambda as literals; the parameters are a, b, ... unless a static operand names a variable.
    /// </summary>
    string BatchedCall(Node n, string[] args)
    {
        var ps = new List<string>();
        var passed = new List<string>();
        var inner = new string[args.Length];
        bool letters = n.Args.All(a => a.Kind != Kind.Static || a.IsConst);
        for (int i = 0; i < args.Length; i++)
        {
            if (n.Args[i].Kind == Kind.Static) { inner[i] = args[i]; continue; }
            var p = letters ? Printer.ParamName(ps.Count) : Fresh();
            ps.Add($"{KindName(n.Args[i].Kind)} {p}");
            inner[i] = p;
            passed.Add(args[i]);
        }
        return $"({KindName(n.Kind)})Lax.Batched({n.Batch}, ({string.Join(", ", ps)}) => {Format(n, inner)}{string.Concat(passed.Select(a => ", " + a))})";
    }

    void Line(string indent, string text, Node n)
    {
        var line = indent + text;
        if (note?.Invoke(n) is { Length: > 0 } comment && !text.Contains('\n')) line = line.PadRight(48) + " // " + comment;
        sb.AppendLine(line);
    }

    /// <summary>Sub-graph <paramref name="sub"/> as a statement lambda: its first <paramref name="k"/> inputs are the
    /// parameters, the others stand for the trailing operands <paramref name="args"/> (captured by the lambda).</summary>
    string Lambda(Graph sub, int k, string[] args, string indent)
    {
        var inner = new Dictionary<Node, string>(RefEq<Node>.Instance);
        var ps = new List<string>();
        for (int i = 0; i < k; i++)
        {
            var p = Fresh();
            inner[sub.Inputs[i]] = p;
            ps.Add($"{KindName(sub.Inputs[i].Kind)} {p}");
        }
        int first = args.Length - (sub.Inputs.Length - k);
        for (int i = k; i < sub.Inputs.Length; i++) inner[sub.Inputs[i]] = args[first + i - k];
        // the body goes to its own buffer, then into the caller's line
        var outer = sb.ToString();
        sb.Clear();
        Body(sub, inner, indent + "    ");
        var outs = sub.Outputs.Select(o => inner[o]).ToArray();
        sb.Append(indent).Append("    return ").Append(outs.Length == 1 ? outs[0] : "(" + string.Join(", ", outs) + ")").AppendLine(";");
        var body = sb.ToString();
        sb.Clear().Append(outer);
        // the return type written out: a literal 0.5 returned for a tensor converts to one, as in the method's own return
        var kinds = sub.Outputs.Select(o => KindName(o.Kind)).ToArray();
        var returns = kinds.Length == 1 ? kinds[0] : "(" + string.Join(", ", kinds) + ")";
        return $"{returns} ({string.Join(", ", ps)}) =>\n{indent}{{\n{body}{indent}}}";
    }
}
