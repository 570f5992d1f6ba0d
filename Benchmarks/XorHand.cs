// Copied unchanged (apart from this header) from /work/shared/baselines/XorHand.cs, the hand-written baselines that
// issue 20 ("Small calls as fast as hand-written C#") sets its targets against. Benchmarks/SmallCallBench.cs times
// the library side by side with them in one run.

// The hand-written baselines that Functional.AD's XOR benchmarks are measured against (float32).
// Same net as Examples/Xor: h = tanh(W1 x + b1), o = sigmoid(W2 . h + b2), loss = -y log o - (1-y) log(1-o).
// Copy this file into Benchmarks/ and time the library side by side with it in one run.
//   GradAlloc: one example; allocates its three gradient arrays and returns them with the loss and gb2
//              (about 88 ns on the development machine; 66 ns into preallocated arrays).
//   GradBatch: mean loss and mean gradient over n examples, one scalar loop (about 7.5 us for n = 100).
//   XorBatchTP: the same batch over columns with TensorPrimitives (about 0.62 us for n = 100).
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

public static class XorHand
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Grad(float[] w1, float[] b1, float[] w2, float b2, float x0, float x1, float y,
                             float[] gw1, float[] gb1, float[] gw2, out float gb2)
    {
        float h0 = MathF.Tanh(w1[0] * x0 + w1[1] * x1 + b1[0]);
        float h1 = MathF.Tanh(w1[2] * x0 + w1[3] * x1 + b1[1]);
        float h2 = MathF.Tanh(w1[4] * x0 + w1[5] * x1 + b1[2]);
        float z = w2[0] * h0 + w2[1] * h1 + w2[2] * h2 + b2;
        float o = 1f / (1f + MathF.Exp(-z));
        float loss = -y * MathF.Log(o) - (1f - y) * MathF.Log(1f - o);
        float dz = o - y;
        gb2 = dz;
        gw2[0] = dz * h0; gw2[1] = dz * h1; gw2[2] = dz * h2;
        float d0 = dz * w2[0] * (1f - h0 * h0), d1 = dz * w2[1] * (1f - h1 * h1), d2 = dz * w2[2] * (1f - h2 * h2);
        gb1[0] = d0; gb1[1] = d1; gb1[2] = d2;
        gw1[0] = d0 * x0; gw1[1] = d0 * x1; gw1[2] = d1 * x0; gw1[3] = d1 * x1; gw1[4] = d2 * x0; gw1[5] = d2 * x1;
        return loss;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static (float loss, float[] gw1, float[] gb1, float[] gw2, float gb2) GradAlloc(float[] w1, float[] b1, float[] w2, float b2, float x0, float x1, float y)
    {
        var gw1 = new float[6]; var gb1 = new float[3]; var gw2 = new float[3];
        float loss = Grad(w1, b1, w2, b2, x0, x1, y, gw1, gb1, gw2, out float gb2);
        return (loss, gw1, gb1, gw2, gb2);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float GradBatch(float[] w1, float[] b1, float[] w2, float b2, float[] X, float[] Y, int n,
                                  float[] gw1, float[] gb1, float[] gw2, out float gb2)
    {
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, c0 = 0, c1 = 0, c2 = 0, e0 = 0, e1 = 0, e2 = 0, gz = 0, L = 0;
        for (int i = 0; i < n; i++)
        {
            float x0 = X[2 * i], x1 = X[2 * i + 1], y = Y[i];
            float h0 = MathF.Tanh(w1[0] * x0 + w1[1] * x1 + b1[0]);
            float h1 = MathF.Tanh(w1[2] * x0 + w1[3] * x1 + b1[1]);
            float h2 = MathF.Tanh(w1[4] * x0 + w1[5] * x1 + b1[2]);
            float o = 1f / (1f + MathF.Exp(-(w2[0] * h0 + w2[1] * h1 + w2[2] * h2 + b2)));
            L += -y * MathF.Log(o) - (1f - y) * MathF.Log(1f - o);
            float dz = o - y;
            gz += dz; e0 += dz * h0; e1 += dz * h1; e2 += dz * h2;
            float d0 = dz * w2[0] * (1f - h0 * h0), d1 = dz * w2[1] * (1f - h1 * h1), d2 = dz * w2[2] * (1f - h2 * h2);
            c0 += d0; c1 += d1; c2 += d2;
            a0 += d0 * x0; a1 += d0 * x1; a2 += d1 * x0; a3 += d1 * x1; a4 += d2 * x0; a5 += d2 * x1;
        }
        float inv = 1f / n;
        gw1[0] = a0 * inv; gw1[1] = a1 * inv; gw1[2] = a2 * inv; gw1[3] = a3 * inv; gw1[4] = a4 * inv; gw1[5] = a5 * inv;
        gb1[0] = c0 * inv; gb1[1] = c1 * inv; gb1[2] = c2 * inv;
        gw2[0] = e0 * inv; gw2[1] = e1 * inv; gw2[2] = e2 * inv;
        gb2 = gz * inv;
        return L * inv;
    }
}

/// <summary>The batch gradient over SoA columns with TensorPrimitives, buffers allocated once.</summary>
public sealed class XorBatchTP(int n)
{
    readonly float[] pre = new float[n], h0 = new float[n], h1 = new float[n], h2 = new float[n], z = new float[n],
        o = new float[n], t = new float[n], dz = new float[n], dh = new float[n], l1 = new float[n], l2 = new float[n];

    [MethodImpl(MethodImplOptions.NoInlining)]
    public float Grad(float[] w1, float[] b1, float[] w2, float b2, float[] X0, float[] X1, float[] Y,
                      float[] gw1, float[] gb1, float[] gw2, out float gb2)
    {
        float inv = 1f / n;
        var H = new[] { h0, h1, h2 };
        for (int i = 0; i < 3; i++)
        {
            TensorPrimitives.Multiply(X0, w1[2 * i], pre);
            TensorPrimitives.MultiplyAdd(X1, w1[2 * i + 1], pre, pre);
            TensorPrimitives.Add(pre, b1[i], pre);
            TensorPrimitives.Tanh(pre, H[i]);
        }
        TensorPrimitives.Multiply(h0, w2[0], z);
        TensorPrimitives.MultiplyAdd(h1, w2[1], z, z);
        TensorPrimitives.MultiplyAdd(h2, w2[2], z, z);
        TensorPrimitives.Add(z, b2, z);
        TensorPrimitives.Sigmoid(z, o);
        TensorPrimitives.Log(o, l1);
        TensorPrimitives.Subtract(1f, o, t);
        TensorPrimitives.Log(t, l2);
        float loss = (-TensorPrimitives.Dot(Y, l1) - TensorPrimitives.Sum(l2) + TensorPrimitives.Dot(Y, l2)) * inv;
        TensorPrimitives.Subtract(o, Y, dz);
        gb2 = TensorPrimitives.Sum(dz) * inv;
        for (int i = 0; i < 3; i++)
        {
            gw2[i] = TensorPrimitives.Dot(dz, H[i]) * inv;
            TensorPrimitives.Multiply(H[i], H[i], t);
            TensorPrimitives.Subtract(1f, t, t);
            TensorPrimitives.Multiply(t, dz, dh);
            TensorPrimitives.Multiply(dh, w2[i], dh);
            gb1[i] = TensorPrimitives.Sum(dh) * inv;
            gw1[2 * i] = TensorPrimitives.Dot(dh, X0) * inv;
            gw1[2 * i + 1] = TensorPrimitives.Dot(dh, X1) * inv;
        }
        return loss;
    }
}
