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
        var init = Leaf(Read(call.Arguments[1], env, b), b, call.Arguments[1]);
        if (StripQuote(call.Arguments[2]) is not LambdaExpression body)
            throw Unsupported(call.Arguments[2], "the body of Np.Fold must be a lambda written in place, (double i, Tensor carry) => ...");
        var bb = new Builder(b);
        var carry = bb.Input(init.Kind, body.Parameters[1].Name);
        var row = bb.Input(Kind.Tensor, body.Parameters[0].Name);
        var inner = new Dictionary<ParameterExpression, Sym>(env)
        {
            [body.Parameters[0]] = new SLeaf(bb.Apply(Prims.ToDouble, [row])),
            [body.Parameters[1]] = new SLeaf(carry),
        };
        var next = bb.Capture(Leaf(Read(body.Body, inner, bb), bb, body.Body));
        if (next.Kind != init.Kind)
            throw new ShapeException($"Np.Fold: the body `{Printer.Expr(body)}`", [],
                $"it returns a {next.Kind} for a carry that is a {init.Kind}: a loop body must return a carry of the same type and shape as `{Printer.Expr(call.Arguments[1])}`");
        var g = bb.Finish([next]);
        var steps = b.Const(Tensor.FromArray(Enumerable.Range(0, n).Select(i => (double)i).ToArray(), DType.Float64));
        var node = b.Apply(Prims.Scan, [init, steps, .. bb.Captures], new Params(new ScanParams(1, 1, n, false, Printer.Expr(call))), [g], 0);
        node.Source ??= call;
        var c = Tuples.Get(b, node, 0);
        c.Source ??= call;
        return new SLeaf(c);
    }
}
