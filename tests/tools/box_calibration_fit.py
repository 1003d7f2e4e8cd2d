#!/usr/bin/python3
# Box-calibration fit (docs/results.md, "Box calibration"): usage box_calibration_fit.py RUN.jsonl [ANNOTATIONS_DIR]
# RUN.jsonl: `maskdetect run --json` output with the box_* keys at 1, 1, 0, 0, on the training split images only.
import json,sys,numpy as np,xml.etree.ElementTree as ET,os
D=sys.argv[2] if len(sys.argv)>2 else '../shared/datasets/detection/andrewmvd_face_mask/annotations'
def gt(stem):
    r=ET.parse(f'{D}/{stem}.xml').getroot(); out=[]
    for o in r.iter('object'):
        b=o.find('bndbox'); x0,y0,x1,y1=[float(b.find(k).text) for k in ('xmin','ymin','xmax','ymax')]
        out.append((x0,y0,x1-x0,y1-y0))
    return np.array(out).reshape(-1,4)
def iou(a,b):
    ax1,ay1=a[...,0]+a[...,2],a[...,1]+a[...,3]; bx1,by1=b[...,0]+b[...,2],b[...,1]+b[...,3]
    iw=np.clip(np.minimum(ax1,bx1)-np.maximum(a[...,0],b[...,0]),0,None); ih=np.clip(np.minimum(ay1,by1)-np.maximum(a[...,1],b[...,1]),0,None)
    i=iw*ih; return i/(a[...,2]*a[...,3]+b[...,2]*b[...,3]-i+1e-9)
P=[];G=[]
for line in open(sys.argv[1]):
    j=json.loads(line); stem=os.path.splitext(j['image'])[0]; g=gt(stem)
    dets=sorted([f for f in j['faces'] if f['face_score']>=0.5],key=lambda f:-f['face_score'])
    used=set()
    for f in dets:
        d=np.array(f['box'],float)
        if len(g)==0: break
        ious=iou(d[None],g); 
        for k in used: ious[k]=-1
        k=int(np.argmax(ious))
        if ious[k]>=0.3: used.add(k); P.append(d); G.append(g[k])
P=np.array(P);G=np.array(G); print('pairs',len(P))
def tr(p,sx,sy,dx,dy):
    w=p[:,2]*sx;h=p[:,3]*sy;cx=p[:,0]+p[:,2]/2+dx*p[:,2];cy=p[:,1]+p[:,3]/2+dy*p[:,3]
    return np.stack([cx-w/2,cy-h/2,w,h],1)
def score(q):
    v=iou(q,G); return (v>=0.5).mean(),(v>=0.75).mean(),v.mean()
print('identity r50=%.3f r75=%.3f miou=%.3f'%score(P))
best=None
for sx in np.arange(0.75,1.151,0.025):
  for sy in np.arange(0.65,1.151,0.025):
    for dx in (-0.02,0.0,0.02):
      for dy in np.arange(-0.05,0.301,0.0125):
        r50,r75,m=score(tr(P,sx,sy,dx,dy)); obj=r50+r75
        if best is None or obj>best[0]: best=(obj,sx,sy,dx,dy,r50,r75,m)
print('best sx=%.3f sy=%.3f dx=%.3f dy=%.4f r50=%.3f r75=%.3f miou=%.3f'%best[1:])
