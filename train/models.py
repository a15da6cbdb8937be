"""Teacher convnet and DeiT student, with state_dict keys exactly as timm names them."""
import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- teacher
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


class ResNetTeacher(nn.Module):
    """Compact ResNet for grey images: a 3x3 stem, then one stage per width (the first at full
    resolution, each later one halving it), `blocks` BasicBlocks per stage, global average pool, linear.
    Global pooling makes it run at any input size (the 56x56 teacher is this network fine-tuned)."""

    def __init__(self, widths=(32, 64, 128), blocks=1, num_classes=10):
        super().__init__()
        w0 = widths[0]
        self.stem = nn.Sequential(nn.Conv2d(1, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        layers, cin = [], w0
        for i, w in enumerate(widths):
            for j in range(blocks):
                layers.append(BasicBlock(cin, w, 2 if i > 0 and j == 0 else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class TeacherEnsemble(nn.Module):
    """Several teachers as one: the mean of their logits (each member runs at the same input)."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        return torch.stack([m(x).float() for m in self.members]).mean(0)


# ----------------------------------------------------------------------------- DeiT student
class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # B, N, D


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DeiT(nn.Module):
    """timm VisionTransformer (distilled=False) / VisionTransformerDistilled (distilled=True).

    The second prefix token and its head keep timm's names (`dist_token`, `head_dist`) whatever they
    are trained for: a distillation token (teacher labels) or a second class token (true labels, the
    paper's control). The two networks are the same; only the loss differs."""

    def __init__(self, img_size=28, patch_size=4, in_chans=1, embed_dim=128, depth=6, num_heads=4,
                 mlp_ratio=2.0, num_classes=10, distilled=True):
        super().__init__()
        self.distilled = distilled
        self.num_prefix = 2 if distilled else 1
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if distilled:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + self.num_prefix, embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        if distilled:
            self.head_dist = nn.Linear(embed_dim, num_classes)
        self._init()

    def _init(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        if self.distilled:
            nn.init.trunc_normal_(self.dist_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_tokens(self, x):
        x = self.patch_embed(x)
        B = x.shape[0]
        pre = [self.cls_token.expand(B, -1, -1)]
        if self.distilled:
            pre.append(self.dist_token.expand(B, -1, -1))
        x = torch.cat(pre + [x], dim=1) + self.pos_embed
        return self.norm(self.blocks(x))

    def forward(self, x, with_tokens=False):
        """Returns class-head logits, and (if distilled) dist-head logits as a tuple; with_tokens:
        also the final-norm output of the prefix tokens [B, n_prefix, D] (for their cosine)."""
        x = self.forward_tokens(x)
        if with_tokens:
            heads = (self.head(x[:, 0]), self.head_dist(x[:, 1])) if self.distilled else (self.head(x[:, 0]),)
            return heads, x[:, :self.num_prefix]
        if self.distilled:
            return self.head(x[:, 0]), self.head_dist(x[:, 1])
        return self.head(x[:, 0])


def count_params(m):
    return sum(p.numel() for p in m.parameters())
