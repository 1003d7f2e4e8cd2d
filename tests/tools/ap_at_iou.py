#!/usr/bin/python3
# usage: ap_at_iou.py RUN.jsonl... : VOC all-point AP per class at IoU .5 and .75 of `maskdetect run --json` output on andrewmvd
# VOC all-point AP per class at a given IoU from run --json output (score = face_score * label prob), as eval does.
import json,sys,numpy as np,xml.etree.ElementTree as ET,os
D=os.environ.get('ANNOTATIONS', '../shared/datasets/detection/andrewmvd_face_mask/annotations')
M={'with_mask':'mask','without_mask':'no_mask','mask_weared_incorrect':'incorrect'}
def load(f):
    G={};P=[]
    for line in open(f):
        j=json.loads(line); stem=os.path.splitext(j['image'])[0]
        r=ET.parse(f'{D}/{stem}.xml').getroot()
        G[stem]=[(M[o.find('name').text],[float(o.find('bndbox').find(k).text) for k in ('xmin','ymin','xmax','ymax')]) for o in r.iter('object')]
        for fc in j['faces']:
            x,y,w,h=fc['box']; P.append((stem,fc['label'],fc['face_score']*fc['score'],[x,y,x+w,y+h]))
    return G,P
def iou(a,b):
    iw=max(0,min(a[2],b[2])-max(a[0],b[0]));ih=max(0,min(a[3],b[3])-max(a[1],b[1]));i=iw*ih
    return i/((a[2]-a[0])*(a[3]-a[1])+(b[2]-b[0])*(b[3]-b[1])-i)
def ap(G,P,cls,t):
    gts={k:[b for c,b in v if c==cls or cls is None] for k,v in G.items()}; n=sum(len(v) for v in gts.values())
    used={k:[False]*len(v) for k,v in gts.items()}
    ps=sorted([p for p in P if cls is None or p[1]==cls],key=lambda p:-p[2]); tp=[]
    for s,_,_,b in ps:
        best,bi=0,-1
        for i,g in enumerate(gts[s]):
            v=iou(b,g)
            if v>best: best,bi=v,i
        if best>=t and not used[s][bi]: used[s][bi]=True; tp.append(1)
        else: tp.append(0)
    tp=np.array(tp); ctp=np.cumsum(tp); rec=ctp/max(n,1); prec=ctp/np.arange(1,len(tp)+1)
    mrec=np.concatenate([[0],rec,[1]]); mpre=np.concatenate([[0],prec,[0]])
    for i in range(len(mpre)-2,-1,-1): mpre[i]=max(mpre[i],mpre[i+1])
    idx=np.where(mrec[1:]!=mrec[:-1])[0]; return float(np.sum((mrec[idx+1]-mrec[idx])*mpre[idx+1]))
for f in sys.argv[1:]:
    G,P=load(f); out=[]
    for t in (0.5,0.75):
        cl=[ap(G,P,c,t) for c in ('mask','no_mask','incorrect')]
        out.append('IoU %.2f: mAP %.3f (mask %.3f no_mask %.3f incorrect %.3f) face AP %.3f'%(t,np.mean(cl),*cl,ap(G,P,None,t)))
    print(os.path.basename(f),' | '.join(out))
