namespace Functional.AD;

/// <summary>
/// The structural slots (<c>Primitive.Slots.cs</c>) of the table's leaves, shape helpers and the primitives that keep a
/// masked cotangent: graph inputs and constants, what sees whole values under Vmap, shape classes, and shape
/// inference of the helpers. The control primitives fill their own (<see cref="CondRules"/>, <see cref="Loops"/>,
/// <see cref="ScanWhile"/>, <see cref="CustomRules"/>).
/// </summary>
internal static class Roles
{
    public static void Install()
    {
        Prims.Input.Leaf = LeafKind.Input;
        Prims.Const.Leaf = LeafKind.Const;

        // leaves and shape helpers see whole values: a batched operand does not give them a batch count
        foreach (var p in new[] { Prims.Input, Prims.Const, Prims.AvalOf, Prims.InferAval, Prims.Zeros, Prims.Ones })
            p.AlwaysUnbatched = true;

        // AvalOf describes its operand; GradSeed is ones shaped like it
        Prims.AvalOf.ClassOfOperand = 0;
        Prims.GradSeed.ClassOfOperand = 0;
        // a C# double made a tensor is a weak scalar
        Prims.FromDouble.WeakScalarResult = true;

        Prims.AvalOf.AvalRule = (_, a) => a[0];
        Prims.InferAval.AvalRule = (n, a) => Rt.InferAval(n.Params.Get<Primitive>(0), n.Params.Get<Params>(1), n.Params.Get<Kind[]>(2), a, InferAvalBatch(n.Params));
        // InferAval's last parameter is the batch count of the node it describes: one more batch axis there too
        Prims.InferAval.ShiftBatch = (p, by) => new Params(p[0], p[1], p[2], InferAvalBatch(p) + by);

        // reverse mode's "double where": Where masks the cotangents it sends; these keep a mask as elementwise primitives do
        Prims.Where.MasksCotangents = true;
        foreach (var p in new[] { Prims.SumTo, Prims.BroadcastTo, Prims.CastDouble, Prims.CastFloat })
            p.KeepsCotangentMask = true;
    }

    /// <summary>The batch count of the node an <c>InferAval</c> describes (its optional fourth parameter).</summary>
    static int InferAvalBatch(Params p) => p.Count > 3 ? (int)p[3]! : 0;
}
