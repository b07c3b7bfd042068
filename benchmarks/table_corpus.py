"""A table-heavy corpus made in code, for `python -m benchmarks tables`.

Markdown pages, English and Korean, whose long and wide tables split across chunks: career levels per
team (level × title, scope, on-call duty, review cycle, …), holidays per office and year (holiday ×
office), error codes per product (code × meaning, cause, action, owner team, severity). Each question
names a row and a column ("What is the on-call duty for L3 in the Payments team?"), so the chunk that
answers it is the one holding that row, and only its column name says which cell is meant. Cell values
are drawn with a fixed seed and never repeat the column names' words.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    source: str
    title: str
    text: str  # Markdown
    language: str


@dataclass(frozen=True)
class TableQuestion:
    question: str
    language: str
    source: str  # the page that answers it
    row: str  # the row's first cell (level, holiday, code)
    cell: str  # the answer: the cell in that row under the column the question names
    kind: str  # levels, holidays, errors

    def answered_by(self, text: str) -> bool:
        """Whether a chunk's text holds the row with its cell (as a table row or as "column: value" pairs)."""
        key = re.compile(rf"(?<![\w-]){re.escape(self.row)}(?![\w-])")
        return any(key.search(line) and self.cell in line for line in text.splitlines())


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


# -- career levels -------------------------------------------------------------------------------------

_LEVEL_VALUES = {
    "en": {
        "Title": ["Associate Engineer", "Engineer", "Senior Engineer", "Staff Engineer", "Senior Staff Engineer",
                  "Principal Engineer", "Distinguished Engineer", "Engineering Fellow", "Lead Engineer",
                  "Specialist", "Senior Specialist", "Architect"],
        "Scope": ["single tasks with close guidance", "features inside one service", "a service end to end",
                  "several services and their interfaces", "a product area across squads",
                  "the whole department's technical direction", "company-wide platforms", "one component",
                  "migrations that cross teams", "the reliability of a business line"],
        "On-call duty": ["shadow shifts only", "secondary pager one week in six", "primary pager one week in four",
                         "incident commander rotation", "escalation contact for severe outages",
                         "weekend pager twice a quarter", "no pager rotation", "follow-the-sun handover lead",
                         "primary pager one week in eight"],
        "Review cycle": ["every quarter", "twice a year", "once a year", "after each project", "every two months",
                         "monthly check-ins, yearly rating"],
        "Bonus target": [f"{p}% of base salary" for p in (0, 5, 8, 10, 12, 15, 18, 20, 25, 30)],
        "Promotion needs": ["two cycles at strong rating", "a design doc approved by peers", "mentoring two people",
                            "leading an incident review", "a committee decision", "sponsorship by a director",
                            "delivering a cross-team project", "a written self-assessment"],
    },
    "ko": {
        "직함": ["주니어 엔지니어", "엔지니어", "시니어 엔지니어", "스태프 엔지니어", "시니어 스태프 엔지니어",
               "프린시펄 엔지니어", "수석 엔지니어", "펠로", "리드 엔지니어", "전문가", "책임 전문가", "아키텍트"],
        "담당 범위": ["가이드를 받아 단일 작업 수행", "하나의 서비스 안의 기능", "서비스 하나를 처음부터 끝까지",
                  "여러 서비스와 그 인터페이스", "여러 스쿼드에 걸친 제품 영역", "부서 전체의 기술 방향",
                  "전사 플랫폼", "컴포넌트 하나", "팀을 넘나드는 마이그레이션", "사업 부문의 안정성"],
        "온콜 업무": ["참관 근무만", "6주에 한 번 보조 호출 담당", "4주에 한 번 1차 호출 담당", "장애 지휘관 순번",
                  "중대 장애 시 에스컬레이션 연락처", "분기에 두 번 주말 호출", "호출 순번 없음",
                  "시차 인수인계 리드", "8주에 한 번 1차 호출 담당"],
        "평가 주기": ["분기마다", "1년에 두 번", "1년에 한 번", "프로젝트가 끝날 때마다", "두 달마다",
                  "매달 점검, 연 1회 등급"],
        "성과급 목표": [f"기본급의 {p}%" for p in (0, 5, 8, 10, 12, 15, 18, 20, 25, 30)],
        "승진 요건": ["두 번 연속 우수 등급", "동료가 승인한 설계 문서", "두 명 멘토링", "장애 회고 주도",
                  "위원회 결정", "이사의 추천", "팀 간 프로젝트 완수", "자기 평가서 제출"],
    },
}
_TEAMS = {"en": ["Platform", "Payments", "Data", "Security", "Mobile", "Support", "Search", "Growth", "Design",
                 "Infrastructure"],
          "ko": ["플랫폼", "결제", "데이터", "보안", "모바일", "검색"]}
_LEVEL_QUESTIONS = {
    "en": {"Title": "What is the title of level {row} in the {team} team?",
           "Scope": "What scope does a {row} in the {team} team have?",
           "On-call duty": "What is the on-call duty for {row} in the {team} team?",
           "Review cycle": "What is the review cycle for {team} engineers at {row}?",
           "Bonus target": "What is the bonus target of a {team} {row}?",
           "Promotion needs": "What does a {team} {row} need for a promotion?"},
    "ko": {"직함": "{team}팀 {row} 직급의 직함은 무엇인가요?",
           "담당 범위": "{team}팀 {row}의 담당 범위는 어디까지인가요?",
           "온콜 업무": "{team}팀 {row} 직급의 온콜 업무는 무엇인가요?",
           "평가 주기": "{team}팀 {row}의 평가 주기는 어떻게 되나요?",
           "성과급 목표": "{team}팀 {row} 직급의 성과급 목표는 얼마인가요?",
           "승진 요건": "{team}팀 {row}의 승진 요건은 무엇인가요?"},
}


def _levels(lang: str, rng: random.Random) -> tuple[list[Page], list[TableQuestion]]:
    pages, questions = [], []
    columns = list(_LEVEL_VALUES[lang])
    key = "Level" if lang == "en" else "직급"
    for team in _TEAMS[lang]:
        ordered = {columns[0], columns[4]}  # titles and bonus targets rise with the level
        rows = [[f"L{n}", *(_LEVEL_VALUES[lang][c][min(n - 1, len(_LEVEL_VALUES[lang][c]) - 1)] if c in ordered
                            else rng.choice(_LEVEL_VALUES[lang][c]) for c in columns)] for n in range(1, 13)]
        if lang == "en":
            title = f"{team} Engineering Career Levels"
            intro = (f"This page lists the career levels of the {team} team. Each level builds on the one below "
                     "it; managers use the table in calibration meetings.")
            heading, slug = "## Levels", team.lower()
        else:
            title = f"{team}팀 경력 직급표"
            intro = f"이 문서는 {team}팀의 직급 체계를 설명합니다. 매니저는 보정 회의에서 아래 표를 사용합니다."
            heading, slug = "## 직급", f"team{_TEAMS['ko'].index(team)}-ko"
        text = f"# {title}\n\n{intro}\n\n{heading}\n\n{_table([key, *columns], rows)}\n"
        source = f"levels-{slug}.md"
        pages.append(Page(source, title, text, lang))
        for row in rng.sample(rows, 6):
            column = rng.randrange(len(columns))
            template = _LEVEL_QUESTIONS[lang][columns[column]]
            questions.append(TableQuestion(template.format(row=row[0], team=team), lang, source, row[0],
                                           row[column + 1], "levels"))
    return pages, questions


# -- holidays per office ---------------------------------------------------------------------------------

_HOLIDAYS = {
    "en": ["New Year's Day", "Lunar New Year", "Good Friday", "Easter Monday", "Labour Day", "Ascension Day",
           "Whit Monday", "Memorial Day", "Midsummer", "Independence Day", "Liberation Day", "Harvest Festival",
           "Unity Day", "Thanksgiving", "Foundation Day", "Christmas Eve", "Christmas Day", "Boxing Day"],
    "ko": ["신정", "설날", "삼일절", "어린이날", "부처님오신날", "현충일", "광복절", "추석", "개천절", "한글날",
           "성탄절", "근로자의 날", "창립기념일", "선거일"],
}
_OFFICES = {"en": ["Berlin", "Seoul", "Austin", "Tokyo", "London", "Toronto", "Sydney", "Lisbon"],
            "ko": ["서울", "부산", "대전", "베를린", "도쿄", "오스틴"]}
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DAYS = "Mon Tue Wed Thu Fri".split()


def _date(lang: str, rng: random.Random, month: int) -> str:
    day = rng.randint(1, 28)
    if rng.random() < 0.15:
        return "not observed" if lang == "en" else "휴무 아님"
    return f"{rng.choice(_DAYS)} {day} {_MONTHS[month]}" if lang == "en" else f"{month + 1}월 {day}일"


def _holidays(lang: str, rng: random.Random) -> tuple[list[Page], list[TableQuestion]]:
    pages, questions = [], []
    offices = _OFFICES[lang]
    for year in range(2024, 2029):
        rows = [[name, *(_date(lang, rng, i * 12 // len(_HOLIDAYS[lang])) for _ in offices)]
                for i, name in enumerate(_HOLIDAYS[lang])]
        if lang == "en":
            title, key, heading = f"Office Holidays {year}", "Holiday", "## Calendar"
            intro = (f"Public holidays observed by each office in {year}. Offices close on these days; "
                     "on-call rotations continue.")
            template = "On what date does the {office} office observe {row} in {year}?"
        else:
            title, key, heading = f"{year}년 사무소별 공휴일", "공휴일", "## 달력"
            intro = f"{year}년 각 사무소가 쉬는 공휴일입니다. 사무소는 문을 닫지만 온콜 순번은 계속됩니다."
            template = "{year}년 {office} 사무소의 {row} 휴무일은 언제인가요?"
        source = f"holidays-{year}{'-ko' if lang == 'ko' else ''}.md"
        pages.append(Page(source, title, f"# {title}\n\n{intro}\n\n{heading}\n\n{_table([key, *offices], rows)}\n",
                          lang))
        for row in rng.sample(rows, 8):
            column = rng.choice([i for i, cell in enumerate(row[1:]) if cell[0] in "MTWF0123456789"])
            questions.append(TableQuestion(template.format(office=offices[column], row=row[0], year=year), lang,
                                           source, row[0], row[column + 1], "holidays"))
    return pages, questions


# -- error codes --------------------------------------------------------------------------------------

_ERROR_VALUES = {
    "en": {
        "Meaning": ["the request timed out upstream", "the token expired", "the signature did not verify",
                    "the account is locked", "the quota is exhausted", "the certificate is not trusted",
                    "the tunnel could not be established", "the artifact is missing", "the schema is outdated",
                    "the card was declined by the issuer", "the merchant is not onboarded"],
        "Likely cause": ["clock drift on the client", "a stale cache entry", "a firewall blocking UDP 51820",
                         "a rotated key not yet deployed", "too many retries", "an expired root bundle",
                         "a renamed branch", "a partial deploy"],
        "What to do": ["retry after five minutes", "sign in again", "renew it in the self-service portal",
                       "open a ticket with the owners", "clear the local cache", "update the client",
                       "ask for a quota raise", "roll back the last deploy"],
        "Owner team": ["Payments", "Identity", "Network", "Build Infrastructure", "Data Platform", "IT Helpdesk"],
        "Severity": ["low", "medium", "high", "critical"],
    },
    "ko": {
        "의미": ["상위 서버 응답 시간 초과", "토큰 만료", "서명 검증 실패", "계정 잠김", "할당량 소진",
               "신뢰할 수 없는 인증서", "터널 연결 실패", "아티팩트 누락", "스키마 버전 낮음", "카드 발급사 거절"],
        "원인": ["클라이언트 시계 오차", "오래된 캐시 항목", "방화벽의 UDP 차단", "배포되지 않은 교체 키",
               "과도한 재시도", "만료된 루트 인증서", "브랜치 이름 변경", "일부만 배포됨"],
        "조치": ["5분 후 다시 시도", "다시 로그인", "셀프서비스 포털에서 갱신", "담당 팀에 티켓 등록", "로컬 캐시 삭제",
               "클라이언트 업데이트", "할당량 증설 요청", "마지막 배포 롤백"],
        "담당 팀": ["결제팀", "인증팀", "네트워크팀", "빌드 인프라팀", "데이터 플랫폼팀", "IT 헬프데스크"],
        "심각도": ["낮음", "보통", "높음", "긴급"],
    },
}
_PRODUCTS = {"en": [("PAY", "Payments API"), ("VPN", "VPN Client"), ("BLD", "Build System"), ("IDP", "Sign-in"),
                    ("STO", "Object Storage"), ("MAIL", "Mail Gateway")],
             "ko": [("MSG", "메신저"), ("HRP", "인사 포털"), ("ERP", "전사 자원 관리"), ("PAYK", "사내 결제")]}
_ERROR_QUESTIONS = {
    "en": {"Meaning": "What does error {row} mean in the {product}?",
           "Likely cause": "What is the likely cause of {row}?",
           "What to do": "What should I do about error {row}?",
           "Owner team": "Which owner team handles {row}?",
           "Severity": "What is the severity of {product} error {row}?"},
    "ko": {"의미": "{product} 오류 {row}의 의미는 무엇인가요?",
           "원인": "{row} 오류의 원인은 무엇인가요?",
           "조치": "{row} 오류가 나면 어떤 조치를 해야 하나요?",
           "담당 팀": "{row} 오류의 담당 팀은 어디인가요?",
           "심각도": "{product} 오류 {row}의 심각도는 어떻게 되나요?"},
}


def _errors(lang: str, rng: random.Random) -> tuple[list[Page], list[TableQuestion]]:
    pages, questions = [], []
    columns = list(_ERROR_VALUES[lang])
    for prefix, product in _PRODUCTS[lang]:
        codes = sorted(rng.sample(range(1000, 9999), 40))
        rows = [[f"{prefix}-{c}", *(rng.choice(_ERROR_VALUES[lang][col]) for col in columns)] for c in codes]
        key = "Code" if lang == "en" else "코드"
        if lang == "en":
            title = f"{product} Error Codes"
            intro = f"Errors the {product} reports, what they mean and who fixes them."
        else:
            title = f"{product} 오류 코드"
            intro = f"{product}에서 나오는 오류와 그 의미, 담당 팀을 정리했습니다."
        source = f"errors-{prefix.lower()}.md"
        pages.append(Page(source, title, f"# {title}\n\n{intro}\n\n{_table([key, *columns], rows)}\n", lang))
        for row in rng.sample(rows, 8):
            column = rng.randrange(len(columns))
            template = _ERROR_QUESTIONS[lang][columns[column]]
            questions.append(TableQuestion(template.format(row=row[0], product=product), lang, source, row[0],
                                           row[column + 1], "errors"))
    return pages, questions


def build_corpus(seed: int = 7) -> tuple[list[Page], list[TableQuestion]]:
    """The pages and their questions, the same for the same seed."""
    rng = random.Random(seed)
    pages: list[Page] = []
    questions: list[TableQuestion] = []
    for lang in ("en", "ko"):
        for make in (_levels, _holidays, _errors):
            p, q = make(lang, rng)
            pages.extend(p)
            questions.extend(q)
    return pages, questions
