"""The hybrid search as a LangChain retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.search import RetrievalParams, Searcher


class KnowledgeBaseRetriever(BaseRetriever):
    """``invoke(query)`` returns chunks as Documents; metadata carries title, source, section and scores."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    params: RetrievalParams = RetrievalParams()
    collections: list[str] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        hits = self.searcher.search(query, self.params, collections=self.collections,
                                    keyword_query=kwargs.get("keyword_query"))
        documents = []
        for hit in hits:
            metadata = hit.as_dict()
            metadata.pop("text")
            documents.append(Document(page_content=hit.text, metadata=metadata, id=str(hit.chunk_id)))
        return documents
