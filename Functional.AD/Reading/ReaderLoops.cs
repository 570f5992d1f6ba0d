using System.Linq.Expressions;

namespace Functional.AD;

internal sealed partial class Reader
{
    /// <summary>
    /// Reads <c>Np.Fold(n, init, (i, carry) =&gt; body)</c> as a Scan over <c>Arange(n)</c> with one carry and no y: the
    /// body read once into a child builder, its <c>i</c> the row of the sequence read as a double.
    /// </summary>
    Sym ReadLoop(MethodCallExpression call, Dictionary<ParameterExpression, Sym> env, Builder b)
    {
        var name = call.Method.Name;
        if (name == nameof(Np.Scan)) return ReadScan(call, env, b);
        if (name == nameof(Np.While)) return ReadWhile(call, env, b);
        if (name != nameof(Np.Fold)) throw Unsupported(call, $"Np.{name} is not supported");
        if (Read(call.Arguments[0], env, b) is not SStatic { Value: int n })
            throw Unsupported(call.Arguments[0], "the iteration count of Np.Fold must be a constant int (a captured value or a literal)");
        if (n < 0) throw Unsupported(call.Arguments[0], $"the iteration count of Np.Fold must not be negative (it is {n})");
        var carryDef = TreeDef.Of(call.Type);
        var init = CarryLeaves(call.Arguments[1], carryDef, env, b, "Np.Fold");
        if (StripQuote(call.Arguments[2]) is not LambdaExpression body)
            throw Unsupported(call.Arguments[2], "the body of Np.Fold must be a lambda written in place, (double i, Tensor carry) => ...");
        var bb = new Builder(b);
        var carry = CarryInputs(bb, carryDef, body.Parameters[1].Name ?? "carry", init);
        var row = bb.Input(Kind.Tensor, body.Parameters[0].Name);
        var inner = new Dictionary<ParameterExpression, Sym>(env)
        {
            [body.Parameters[0]] = new SLeaf(bb.Apply(Prims.ToDouble, [row])),
            [body.Parameters[1]] = carry,
        };
        var next = new List<Node>();
        Flatten(Read(body.Body, inner, bb), carryDef, bb, next, body.Body);
        next = next.Select(bb.Capture).ToList();
        CheckCarryKinds("Np.Fold", body, call.Arguments[1], init, next);
        var g = bb.Finish(next);
        var steps = b.Const(Tensor.FromArray(Enumerable.Range(0, n).Select(i => (double)i).ToArray(), DType.Float64));
        var node = b.Apply(Prims.Scan, [.. init, steps, .. bb.Captures], new Params(new ScanParams(init.Count, 1, n, false, Printer.Expr(call))), [g], 0);
        node.Source ??= call;
        var results = Tuples.Split(b, node);
        foreach (var r in results) r.Source ??= call;
        using var leaves = ((IEnumerable<Node>)results).GetEnumerator();
        return Rebuild(carryDef, leaves);
    }
}
