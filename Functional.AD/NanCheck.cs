using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// A NaN or an infinity appeared in the result of a checked call (<see cref="Ad.Checked{T1, TResult}"/>, or any
/// jitted call while <see cref="Ad.DebugNans"/> is on). The message names the primitive that produced it first, its
/// C# subexpression, the shapes of its inputs, and whether its inputs already held a NaN or an infinity.
/// </summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Sum(Np.Sqrt(x), null, false);
/// try { Ad.Checked(f)(new Tensor(new[] { 4.0, -1.0 })); }
/// catch (NanException e) { Console.WriteLine(e.Subexpression); }   // Np.Sqrt(x)
/// </code></example>
public sealed class NanException : AdException
{
    /// <summary>The primitive that produced the first non-finite value (for example <c>Log</c>).</summary>
    public string Primitive { get; }

    /// <summary>Its C# subexpression, or the nearest one it was derived from (a derivative rule's code has none of its own).</summary>
    public string Subexpression { get; }

    /// <summary>The shapes of its inputs (<c>float64[3]</c>, <c>double</c>).</summary>
    public IReadOnlyList<string> InputShapes { get; }

    /// <summary>Whether an input of the primitive already held a NaN or an infinity (an argument of the function).</summary>
    public bool InputsHeldNonFinite { get; }

    /// <summary>Creates the exception.</summary>
    public NanException(string message, string primitive, string subexpression, IReadOnlyList<string> inputShapes, bool inputsHeldNonFinite)
        : base(message)
    {
        Primitive = primitive; Subexpression = subexpression; InputShapes = inputShapes; InputsHeldNonFinite = inputsHeldNonFinite;
    }
}

/// <summary>The process-wide switch behind <see cref="Ad.DebugNans"/> (a field, so compiled guards read it directly).</summary>
internal static class NanDebug
{
    /// <summary>Whether jitted calls check their results; initialised from FUNCTIONAL_AD_DEBUG_NANS (1 or true).</summary>
    public static bool On = Environment.GetEnvironmentVariable("FUNCTIONAL_AD_DEBUG_NANS") is "1" or "true" or "True" or "TRUE";
}

/// <summary>
/// Checks the results of calls of one program for NaN and infinity. A result that holds one is explained by running
/// the program again, op by op on the eager kernels with every intermediate kept, and following non-finite values back
/// from that result to the first primitive that made one out of finite inputs (as JAX re-runs a jitted function
/// un-jitted under <c>jax_debug_nans</c>). Values that a <c>Where</c> masks never reach a result, so they are not
/// reported.
/// </summary>
internal sealed class NanChecker(Program prog)
{
    Func<object?[], object?[]>? tracer;

    /// <summary>Rejects a null pytree argument or Tensor leaf before the call runs, naming it.</summary>
    public object?[] Require(object?[] args)
    {
        for (int i = 0; i < prog.ParamDefs.Length; i++)
        {
            var name = prog.Parameters[i].Name ?? $"arg{i}";
            if (args[i] is null && !prog.ParamDefs[i].IsLeaf)
                throw new ArgumentNullException(name, $"argument {name} is a null {Printer.TypeName(prog.ParamDefs[i].Type)}; pass a value.");
            var leaves = new List<object?>();
            prog.ParamDefs[i].Flatten(args[i], leaves);
            var info = prog.ParamDefs[i].LeafInfo(name).ToArray();
            for (int k = 0; k < leaves.Count; k++)
                if (leaves[k] is null && info[k].Kind == Kind.Tensor)
                    throw new ArgumentNullException(info[k].Path, $"argument {info[k].Path} is null; a Tensor is required.");
        }
        return args;
    }

    /// <summary>Checks <paramref name="result"/> of a call with <paramref name="args"/>; returns it when finite.</summary>
    public object? CheckCall(object?[] args, object? result, string backend)
    {
        var outs = new List<object?>();
        prog.OutDef.Flatten(result, outs);
        for (int j = 0; j < outs.Count; j++)
            if (!IsFinite(outs[j]))
            {
                var ins = new List<object?>();
                for (int i = 0; i < prog.ParamDefs.Length; i++) prog.ParamDefs[i].Flatten(args[i], ins);
                throw Locate(ins, j, backend);
            }
        return result;
    }

    /// <summary>Checks flattened results (the Torch path); throws with the culprit when one is not finite.</summary>
    public void CheckLeaves(IReadOnlyList<object?> inputLeaves, IReadOnlyList<object?> outputLeaves, string backend)
    {
        for (int j = 0; j < outputLeaves.Count; j++)
            if (!IsFinite(outputLeaves[j])) throw Locate(inputLeaves, j, backend);
    }

    internal static bool IsFinite(object? v)
    {
        switch (v)
        {
            case double d: return double.IsFinite(d);
            case float f: return float.IsFinite(f);
            case Tensor t:
                switch (t.DType)
                {
                    case DType.Float64: foreach (var x in t.Storage.HostSpan<double>()) if (!double.IsFinite(x)) return false; break;
                    case DType.Float32: foreach (var x in t.Storage.HostSpan<float>()) if (!float.IsFinite(x)) return false; break;
                    case DType.Float16: foreach (var x in t.Storage.HostSpan<Half>()) if (!Half.IsFinite(x)) return false; break;
                    case DType.BFloat16: foreach (var x in t.Storage.HostSpan<BFloat16>()) if (!float.IsFinite((float)x)) return false; break;
                    default: break;   // integers and bools are always finite
                }
                return true;
            default: return true;
        }
    }

    static string Shape(Node n, object? v) => v switch
    {
        Tensor t => t.Aval.ToString(),
        double => "double",
        float => "float",
        _ => n.Kind.ToString().ToLowerInvariant(),
    };

    static string Bad(object? v) => v switch
    {
        double d when double.IsNaN(d) => "NaN",
        float f when float.IsNaN(f) => "NaN",
        Tensor t when t.ToDoubleArray().Any(double.IsNaN) => "NaN",
        _ => "infinity",
    };

    /// <summary>Runs the program op by op and finds where the non-finite value of output <paramref name="output"/> came from.</summary>
    NanException Locate(IReadOnlyList<object?> inputs, int output, string backend)
    {
        var g = prog.Graph;
        object?[] values;
        try { values = (tracer ??= Trace(g))(inputs.ToArray()); }
        catch (Exception e) when (e is not AdException)
        {
            return new NanException($"{backend}: output {output} of the result holds a NaN or an infinity, and re-running the function op by op to find where failed: {e.Message}",
                "?", "?", [], false);
        }
        var index = new Dictionary<Node, int>(RefEq<Node>.Instance);
        for (int i = 0; i < g.Inputs.Length; i++) index[g.Inputs[i]] = i;
        for (int k = 0; k < g.Nodes.Length; k++) index.TryAdd(g.Nodes[k], g.Inputs.Length + k);
        object? Val(Node n) => n.IsConst ? n.Value : index.TryGetValue(n, out var k) ? values[k] : null;

        var names = new List<string>();
        for (int i = 0; i < prog.Parameters.Length; i++) names.AddRange(prog.ParamDefs[i].LeafInfo(prog.Parameters[i].Name ?? $"arg{i}").Select(l => l.Path));
        var node = g.Outputs[output];
        if (node.IsInput)
        {
            var name = names[Array.IndexOf(g.Inputs, node)];
            return new NanException($"{backend}: the argument `{name}` ({Shape(node, Val(node))}) already held a {Bad(Val(node))} and is returned as is.",
                "input", name, [Shape(node, Val(node))], true);
        }
        if (IsFinite(Val(node)))
            return new NanException($"{backend}: output {output} of the result holds a NaN or an infinity, but re-running the function op by op gave a finite value there (a race or a backend difference); run it eagerly with Ad.Checked to compare.",
                "?", "?", [], false);
        // follow non-finite values back to the first primitive that made one
        while (true)
        {
            var next = node.Args.FirstOrDefault(a => !a.IsConst && !a.IsInput && !IsFinite(Val(a)));
            if (next is null) break;
            node = next;
        }
        var shapes = node.Args.Select(a => Shape(a, Val(a))).ToArray();
        var badInputs = node.Args.Where(a => !IsFinite(Val(a))).ToArray();
        var where = node.Source is { } src ? $"`{Printer.Expr(src)}`" : NearestSource(node) is { } near
            ? $"code generated by a transformation (a derivative rule) from `{Printer.Expr(near)}`" : "code generated by a transformation";
        var held = badInputs.Length == 0
            ? "its inputs were all finite"
            : $"its inputs already held a NaN or an infinity: {string.Join(", ", badInputs.Select(a => a.IsInput ? $"the argument `{names[Array.IndexOf(g.Inputs, a)]}`" : "a constant"))}";
        var what = Bad(Val(node));
        return new NanException(
            $"{backend}: the first {what} was produced by the primitive {node.Op.Name} in {where} (inputs: {string.Join(", ", shapes)}); {held}. " +
            "It reaches output " + output + " of the result. NaNs that a Where masks are not reported (see docs/sharp-bits.md).",
            node.Op.Name, node.Source is { } s2 ? Printer.Expr(s2) : NearestSource(node) is { } n2 ? Printer.Expr(n2) : node.Op.Name, shapes, badInputs.Length > 0);
    }

    /// <summary>The C# source of the nearest ancestor that has one (derivative code is built from the primal's values).</summary>
    static Expression? NearestSource(Node n)
    {
        var seen = new HashSet<Node>(RefEq<Node>.Instance);
        var queue = new Queue<Node>(n.Args);
        while (queue.Count > 0)
        {
            var a = queue.Dequeue();
            if (!seen.Add(a)) continue;
            if (a.Source is { } s) return s;
            foreach (var b in a.Args) queue.Enqueue(b);
        }
        return null;
    }

    /// <summary>The program as a function of its input leaves that returns every node's value (inputs first).</summary>
    static Func<object?[], object?[]> Trace(Graph g)
    {
        var ins = Expression.Parameter(typeof(object?[]), "ins");
        var inputs = g.Inputs.Select((x, i) => (Expression)Expression.Convert(Expression.ArrayIndex(ins, Expression.Constant(i)), x.Kind.ClrType(x.Value as Type))).ToList();
        var (vars, stmts, env) = Writer.Emit(g, inputs);
        var all = Expression.Variable(typeof(object?[]), "all");
        var body = new List<Expression>(stmts) { Expression.Assign(all, Expression.NewArrayBounds(typeof(object), Expression.Constant(g.Inputs.Length + g.Nodes.Length))) };
        for (int i = 0; i < g.Inputs.Length; i++)
            body.Add(Expression.Assign(Expression.ArrayAccess(all, Expression.Constant(i)), Expression.ArrayIndex(ins, Expression.Constant(i))));
        for (int k = 0; k < g.Nodes.Length; k++)
            if (env.TryGetValue(g.Nodes[k], out var e) && !g.Nodes[k].IsInput)
                body.Add(Expression.Assign(Expression.ArrayAccess(all, Expression.Constant(g.Inputs.Length + k)), Expression.Convert(e, typeof(object))));
        body.Add(all);
        return Expression.Lambda<Func<object?[], object?[]>>(Expression.Block(typeof(object?[]), [.. vars, all], body), ins).Compile();
    }
}

public static partial class Ad
{
    /// <summary>
    /// NaN and infinity debugging, as JAX's <c>jax_debug_nans</c>: while on, every call of a function compiled with
    /// <c>Ad.Jit</c> or the Torch compiler checks its results, and one that holds a NaN or an infinity raises a
    /// <see cref="NanException"/> naming the primitive that produced it first, its C# subexpression, its input shapes
    /// and whether its inputs already held one; the culprit is found by re-running the call op by op on the eager
    /// kernels. The switch is part of the jit's cache key (turning it on or off recompiles, it never changes code
    /// already running); off, the compiled code is the same as without it. Also on when the environment variable
    /// <c>FUNCTIONAL_AD_DEBUG_NANS</c> is <c>1</c> or <c>true</c>. For the eager path use <see cref="Checked{T1, TResult}"/>.
    /// </summary>
    public static bool DebugNans { get => NanDebug.On; set => NanDebug.On = value; }

    /// <summary>
    /// <paramref name="f"/> compiled on the eager path with its results checked on every call (JAX's
    /// <c>checkify</c> for NaNs): a result holding a NaN or an infinity raises a <see cref="NanException"/> that names
    /// the primitive that produced it first (in a forward or a gradient program), its C# subexpression, its input
    /// shapes and whether its inputs already held one. NaNs that <c>Np.Where</c> masks are not reported.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Sum(Np.Log(x));
    /// Ad.Checked(f)(new Tensor(new[] { 1.0, -1.0 }));   // NanException: ... Log in `Np.Log(x)` (inputs: float64[2]) ...
    /// </code></example>
    public static Func<T1, TResult> Checked<T1, TResult>(Expression<Func<T1, TResult>> f)
    {
        var (run, c) = CheckedCore<Func<T1, TResult>>(f);
        return a => (TResult)c.CheckCall(c.Require([a]), run(a), "Ad.Checked")!;
    }

    /// <summary><see cref="Checked{T1, TResult}"/> for two arguments.</summary>
    public static Func<T1, T2, TResult> Checked<T1, T2, TResult>(Expression<Func<T1, T2, TResult>> f)
    {
        var (run, c) = CheckedCore<Func<T1, T2, TResult>>(f);
        return (a, b) => (TResult)c.CheckCall(c.Require([a, b]), run(a, b), "Ad.Checked")!;
    }

    /// <summary><see cref="Checked{T1, TResult}"/> for three arguments.</summary>
    public static Func<T1, T2, T3, TResult> Checked<T1, T2, T3, TResult>(Expression<Func<T1, T2, T3, TResult>> f)
    {
        var (run, c) = CheckedCore<Func<T1, T2, T3, TResult>>(f);
        return (a, b, d) => (TResult)c.CheckCall(c.Require([a, b, d]), run(a, b, d), "Ad.Checked")!;
    }

    static (TDel Run, NanChecker Checker) CheckedCore<TDel>(Expression<TDel> f) where TDel : Delegate
    {
        var prog = Reader.Read(f);
        return (f.Compile(), new NanChecker(prog));
    }
}
